from __future__ import annotations

import pytest

from verno.core.errors import JMESPathError
from verno.core.jmespath import JMESPath


@pytest.mark.parametrize("expr, expected", [
    ("regex_match('^[0-9]+$', '1234')", True),
    ("regex_match('^[0-9]+$', 'x1234')", False),
    ("regex_match('[0-9]', 'abc1')", True),  # unanchored search
    ("regex_match('^1.5$', `1.5`)", True),  # numbers are converted to strings
    ("regex_match('^123456790$', `123456789`)", True),  # float32 formatting, as Kyverno
    ("regex_replace_all('([Hh]e|G)l', 'Hello, Gophers', '${1}u')", "Heulo, Gophers"),
    ("regex_replace_all('(?P<first>[a-z]+)-(?P<n>[0-9]+)', 'abc-123', '$n/$first')", "123/abc"),
    ("regex_replace_all('([a-z]+)', 'abc', '$1x')", ""),  # Go reads $1x as the group named 1x
    ("regex_replace_all('([a-z]+)', 'abc', '$$1')", "$1"),
    ("regex_replace_all('([a-z]+)', 'abc', '$9')", ""),
    ("regex_replace_all('x*', 'abxd', '-')", "-a-b-d-"),  # Go's empty-match rule
    ("regex_replace_all('^', 'abc', '>')", ">abc"),
    ("regex_replace_all('[0-9]', `123`, `0`)", "000"),
    ("regex_replace_all_literal('([Hh]e|G)l', 'Hello, Gophers', '${1}u')", "${1}ulo, Gophers"),
    ("regex_replace_all_literal('[aeiou]', 'banana', '$')", "b$n$n$"),
    ("pattern_match('prefix-*', 'prefix-something')", True),
    ("pattern_match('prefix-?', 'prefix-ab')", False),
    ("pattern_match('1*', `123`)", True),
    ("label_match(`{\"app\": \"web\"}`, `{\"app\": \"web\", \"tier\": \"fe\"}`)", True),
    ("label_match(`{\"app\": \"web\", \"x\": \"y\"}`, `{\"app\": \"web\"}`)", False),
    ("label_match(`{\"app\": \"db\"}`, `{\"app\": \"web\"}`)", False),
    ("label_match(`{}`, `{\"app\": \"web\"}`)", True),
])
def test_regex_functions(jp: JMESPath, expr: str, expected: object) -> None:
    assert jp.search(expr, {}) == expected


def test_invalid_regex_is_an_error(jp: JMESPath) -> None:
    with pytest.raises(JMESPathError, match="regex_match.*error parsing regexp"):
        jp.search("regex_match('(', 'x')", {})


def test_re2_rejects_backreferences(jp: JMESPath) -> None:
    # Go's regexp (RE2) has no backreferences; Python's re would accept this
    with pytest.raises(JMESPathError):
        jp.search("regex_match('(a)\\1', 'aa')", {})


def test_regex_argument_types(jp: JMESPath) -> None:
    with pytest.raises(JMESPathError):
        jp.search("regex_match('a', `[1]`)", {})


@pytest.mark.parametrize("expr, expected", [
    ("regex_replace_all('(a)', 'a', '[$01]')", "[]"),  # Go: a leading zero makes a name, not a number
    ("regex_replace_all('(a)', 'a', '[${1}0]')", "[a0]"),
    ("regex_replace_all('(a)', 'a', '[$\u0661]')", "[]"),  # an Arabic-Indic digit is a name character only
    ("regex_replace_all('(a)', 'a', '[$\u00bd]')", "[$\u00bd]"),  # ½ is no name character: `$` stays
    ("regex_replace_all('(?P<n\u00e9>a)', 'a', '[$n\u00e9]')", "[a]"),
    ("regex_replace_all('(a)', 'a', '[${1]')", "[${1]"),  # a malformed ${ is text
    ("regex_replace_all('(a)', 'a', '[$1000000000]')", "[]"),  # too large a number: a name
    ("regex_replace_all('a|', 'baaac', '-')", "-b---c-"),  # empty matches abutting a match are skipped
    ("regex_replace_all('', '\u00e9\u65e5\U0001F600', '-')", "-\u00e9-\u65e5-\U0001F600-"),  # whole runes
    ("regex_replace_all('.', '\u00e9\u65e5', '<$0>')", "<\u00e9><\u65e5>"),
    ("regex_replace_all('(x)?b', 'ab', '[$1]')", "a[]"),  # a group that did not take part is empty
])
def test_replace_all_follows_go(jp: JMESPath, expr: str, expected: str) -> None:
    assert jp.search(expr, {}) == expected


class _CountingRegex:
    """A compiled pattern that records every search made with it."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.texts: list[object] = []

    def search(self, text: object, pos: int = 0) -> object:
        self.texts.append(text)
        return self.real.search(text, pos)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)


@pytest.mark.parametrize("function", ["regex_replace_all", "regex_replace_all_literal"])
def test_replace_all_searches_one_encoded_text_once_per_match(function: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each search goes on from a byte offset into the text encoded once: searching a str from an offset
    re-encodes the whole text on every call, which made the loop quadratic."""
    from verno.core.jmespath.functions import regex

    counting = _CountingRegex(regex._compile_cached("[ab]"))
    monkeypatch.setattr(regex, "_compile_cached", lambda pattern: counting)
    source = "ab\u00e9" * 1000
    assert getattr(regex, function)("[ab]", source, "x") == "xx\u00e9" * 1000
    assert len(counting.texts) == 2000 + 1  # one search per match, and the one that finds no more
    assert isinstance(counting.texts[0], bytes)
    assert all(text is counting.texts[0] for text in counting.texts)


@pytest.mark.timeout(30)
def test_replace_all_on_a_large_text_is_linear(jp: JMESPath) -> None:
    # 150k matches in 300k characters: under a second when linear, minutes when each search re-reads the text
    text = "ab" * 150_000
    assert jp.search("regex_replace_all('a', text, 'x')", {"text": text}) == "xb" * 150_000
