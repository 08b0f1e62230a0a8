"""Kyverno's wildcard matching (``verno.core.wildcard``): ``*`` any run of characters, ``?`` exactly one
character (one code point, as Go's rune), no escapes, no other special characters, whole-string match."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verno.core.wildcard import has_wildcard, match, match_any


def reference(pattern: str, text: str) -> bool:
    """The same semantics by another route: ``*`` -> ``.*``, ``?`` -> ``.``, everything else literal."""
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, text, re.DOTALL) is not None


def test_empty_pattern_matches_only_the_empty_string():
    assert match("", "")
    assert not match("", "a") and not match("", " ") and not match("", "*")


@pytest.mark.parametrize("stars", ["*", "**", "***", "*" * 50])
def test_only_stars_match_everything(stars):
    for text in ("", "a", "*", "?", "日本語", "a\nb", "x" * 1000):
        assert match(stars, text), (stars, text)


def test_consecutive_stars_are_one_star():
    for p in ("a**b", "a***b", "a*b"):
        assert match(p, "ab") and match(p, "axb") and match(p, "a**b") and match(p, "a*b*b")
        assert not match(p, "a") and not match(p, "b") and not match(p, "ba") and not match(p, "abx")
    assert match("**x**", "x") and match("**x**", "axb") and not match("**x**", "ab")


def test_question_mark_is_exactly_one_character():
    assert not match("?", "") and match("?", "a") and not match("?", "ab")
    assert match("??", "ab") and not match("??", "a") and not match("??", "abc")
    assert match("?*", "a") and not match("?*", "")  # ?* means non-empty
    assert match("*?", "a") and not match("*?", "")
    assert match("*?*", "abc") and not match("*?*", "")
    assert match("a?c", "abc") and match("a?c", "a?c") and match("a?c", "a*c") and not match("a?c", "ac")


def test_question_mark_and_multibyte_characters():
    # one ? is one code point, however many bytes it takes in UTF-8
    assert match("?", "é") and match("?", "日") and match("?", "😀")
    assert match("??", "日本") and not match("?", "日本") and not match("???", "日本")
    assert match("caf?", "café") and not match("caf??", "café")
    # a decomposed é is two code points (e + combining accent)
    assert match("caf??", "cafe\u0301") and not match("caf?", "cafe\u0301")
    assert match("*本", "日本") and match("日*", "日本") and not match("本*", "日本")
    assert match("?", "\n") and match("a*b", "a\n\nb")


def test_whole_string_is_anchored():
    assert not match("a", "ab") and not match("b", "ab") and not match("ab", "a")
    assert match("a*", "abc") and not match("a*", "bac")
    assert match("*c", "abc") and not match("*c", "acb")
    assert match("*b*", "abc") and not match("*b*", "acd")
    assert match("a*c", "abbbc") and not match("a*c", "abbbcd") and not match("a*c", "xabc")
    assert match("prod-*-db", "prod-eu-db") and not match("prod-*-db", "prod-eu-db-1")


def test_case_sensitive():
    assert not match("Pod", "pod") and not match("pod", "Pod")
    assert not match("P*", "pod") and not match("*D", "pod") and not match("p?D", "pod")
    assert match("P*", "Pod") and match("*d", "Pod")


def test_no_other_special_characters_and_no_escape():
    assert match("a.b", "a.b") and not match("a.b", "axb")
    assert match("[ab]", "[ab]") and not match("[ab]", "a")
    assert match("a+", "a+") and not match("a+", "aa")
    assert match("^a$", "^a$") and not match("^a$", "a")
    assert match("(a|b)", "(a|b)") and not match("(a|b)", "a")
    assert match("{a,b}", "{a,b}") and not match("{a,b}", "a")
    # a backslash is a literal character, not an escape: ``\*`` is a backslash then a wildcard
    assert match("\\*", "\\") and match("\\*", "\\anything") and not match("\\*", "*")
    assert match("a\\?", "a\\x") and not match("a\\?", "a?")


def test_has_wildcard_and_match_any():
    assert has_wildcard("a*") and has_wildcard("?") and not has_wildcard("a.b[c]")
    assert not has_wildcard("")
    assert match_any(["x", "po?"], "pod") and not match_any(["x", "po"], "pod") and not match_any([], "pod")


# the alphabet mixes the wildcards, letters that repeat (so backtracking matters), regex metacharacters
# that must stay literal, a newline and multibyte characters
ALPHABET = st.sampled_from(list("ab*?.[]\\^$+-") + ["\n", "é", "日"])
TEXT = st.sampled_from(list("ab.[]\\^$+-*?") + ["\n", "é", "日"])


@settings(max_examples=400, deadline=None)
@given(pattern=st.text(ALPHABET, max_size=12), text=st.text(TEXT, max_size=14))
def test_property_agrees_with_reference(pattern, text):
    assert match(pattern, text) == reference(pattern, text)


@st.composite
def pattern_and_instance(draw):
    """A pattern and a text built from it (each ``*`` replaced by a run, each ``?`` by one character)."""
    pattern = draw(st.text(ALPHABET, max_size=12))
    parts = []
    for c in pattern:
        if c == "*":
            parts.append(draw(st.text(TEXT, max_size=4)))
        elif c == "?":
            parts.append(draw(TEXT))
        else:
            parts.append(c)
    return pattern, "".join(parts)


@settings(max_examples=300, deadline=None)
@given(pattern_and_instance())
def test_property_every_instance_matches(pair):
    pattern, text = pair
    assert match(pattern, text)
    assert reference(pattern, text)


@settings(max_examples=200, deadline=None)
@given(pattern=st.text(ALPHABET, max_size=10), text=st.text(TEXT, max_size=10))
def test_property_pattern_without_wildcards_is_equality(pattern, text):
    literal = pattern.replace("*", "").replace("?", "")
    assert match(literal, text) == (literal == text)
    assert match(literal, literal)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("stars", [25, 1000])
def test_pathological_pattern_finishes(stars):
    """``*a*a*...*a*b`` against a long run of ``a``: no match, and no blow-up.

    Exponential backtracking never finishes even at 25 stars over 200 characters; an O(len(pattern) x
    len(text)) matcher takes ~2e9 steps at 1,000 stars over 2,000,000 characters, far beyond the
    timeout; a linear one (a single backtrack point) does ~2e6 steps, about a second in Python.
    """
    text_len = 200 if stars == 25 else 2_000_000
    pattern = "*a" * stars + "*b"
    text = "a" * text_len
    assert not match(pattern, text)
    assert match(pattern, text + "b")
    assert not match("?" + pattern, "a" * stars)  # too short for every a of the pattern
