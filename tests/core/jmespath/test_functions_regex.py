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
