"""Bounded cost of JMESPath functions: parsers, random(), and the one limit on what a function returns."""
from __future__ import annotations

import random
import time

import pytest

from verno.core import limits, yamlio
from verno.core.errors import JMESPathError
from verno.core.jmespath import JMESPath
from verno.core import regen as _regen
from verno.core.jmespath.functions import regex, strings

# 852 bytes that expand to billions of values without a cap
ALIAS_BOMB = "\n".join(
    [f"a0: &a0 [{', '.join(['lol'] * 9)}]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    + ["b: [" + ", ".join(["*a9"] * 30) + "]"]) + "\n"


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv(limits.ENV, "100")
    return 100


# -- parsers: the same bounds as file loading -------------------------------------------------------------

def test_parse_yaml_alias_bomb_is_an_error_not_gigabytes(jp: JMESPath) -> None:
    assert len(ALIAS_BOMB) < 1000
    started = time.monotonic()
    with pytest.raises(JMESPathError, match=r"^JMESPath function 'parse_yaml': line \d+: aliases expand "
                                            rf"to more than {yamlio.MAX_ALIAS_EVENTS} values"):
        jp.search("parse_yaml(@)", ALIAS_BOMB)
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("function, text", [
    ("parse_yaml", "a: " + "[" * 300 + "]" * 300),
    ("parse_yaml", "- " * 300 + "x\n"),
    ("parse_json", "[" * 300 + "]" * 300),
    ("parse_json", "[" * 100_000),  # no recursion error either
    ("parse_json", '{"a": ' * 300 + "1" + "}" * 300),
])
def test_parsers_nest_no_deeper_than_files(jp: JMESPath, function: str, text: str) -> None:
    with pytest.raises(JMESPathError, match=rf"^JMESPath function '{function}': .*nested more than "
                                            rf"{yamlio.MAX_DEPTH} levels deep"):
        jp.search(f"{function}(@)", text)


def test_parsers_take_nesting_up_to_the_limit(jp: JMESPath) -> None:
    depth = yamlio.MAX_DEPTH
    assert jp.search("parse_json(@)", "[" * depth + "]" * depth) is not None
    assert jp.search("parse_yaml(@)", "[" * depth + "]" * depth) is not None


@pytest.mark.parametrize("text, message", [
    ('{"a": NaN}', "invalid character 'N' looking for beginning of value"),
    ('[-Infinity]', "invalid character 'I' in numeric literal"),
])
def test_parse_json_has_no_nan_or_infinity(jp: JMESPath, text: str, message: str) -> None:
    with pytest.raises(JMESPathError, match=message):
        jp.search("parse_json(@)", text)


@pytest.mark.parametrize("text, message", [
    ("a: .nan", "json: unsupported value: NaN"),
    ("a: [-.inf]", r"json: unsupported value: -Inf"),
    ("a: x\x00y\nb: 1", "line 1, column 5: control characters are not allowed"),
    ("~: 1", "unsupported map key: null"),
])
def test_parse_yaml_errors_as_kubernetes_reads_yaml(jp: JMESPath, text: str, message: str) -> None:
    with pytest.raises(JMESPathError, match=rf"^JMESPath function 'parse_yaml': .*{message}"):
        jp.search("parse_yaml(@)", text)


# -- random(): Go's regexp/syntax rules, and a bounded generator ------------------------------------------

@pytest.mark.parametrize("pattern, message", [
    ("((a{1000}){1000}){1000}", "invalid repeat count: `{1000}`"),  # the product of nested counts
    ("(x{20}){100}", "invalid repeat count: `{100}`"),
    ("a{1001}", "invalid repeat count: `{1001}`"),
    ("a{2,1}", "invalid repeat count: `{2,1}`"),
    ("(a)\\1", "invalid escape sequence: `\\1`"),  # Go has no backreferences
    ("(?=a)", "invalid or unsupported Perl syntax: `(?=`"),
    ("a**", "invalid nested repetition operator: `**`"),
    ("(a", "missing closing ): `(a`"),
    ("(" * 1100 + ")" * 1100, "expression nests too deeply"),
])
def test_random_rejects_what_go_rejects(jp: JMESPath, pattern: str, message: str) -> None:
    with pytest.raises(JMESPathError) as info:
        jp.search("random(@)", pattern)
    assert str(info.value).startswith("JMESPath function 'random': error parsing regexp: ")
    assert message in str(info.value)


def test_random_takes_what_go_takes(jp: JMESPath) -> None:
    assert len(jp.search("random(@)", "(x{10}){100}")) == 1000
    assert len(jp.search("random(@)", "[a-z]{1000}")) == 1000


class _MostRandom(random.Random):
    """Every repetition takes its largest count."""

    def randint(self, a: int, b: int) -> int:
        return b


@pytest.mark.parametrize("pattern", ["((((((((a*)*)*)*)*)*)*)*)*", "((((((((()*)*)*)*)*)*)*)*)*"])
def test_random_with_nested_unbounded_repetition_stops_at_the_limit(pattern: str) -> None:
    # 10^9 characters (or empty steps): minutes and gigabytes without a budget
    started = time.monotonic()
    with pytest.raises(JMESPathError, match=r"^JMESPath function 'random': the pattern expands to too many "):
        _regen.generate(pattern, _MostRandom())
    assert time.monotonic() - started < 10


def test_random_from_a_huge_class_costs_no_more_than_from_a_small_one(jp: JMESPath) -> None:
    started = time.monotonic()
    value = jp.search("random(@)", "[\u0000-\U0010ffff]{1000}")
    assert time.monotonic() - started < 2  # materialising the class took 0.3 s per character
    assert len(value) == 1000 and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)


# -- the one limit on function results --------------------------------------------------------------------

def test_default_limit_is_the_api_server_request_size() -> None:
    assert limits.DEFAULT_MAX_FUNCTION_RESULT == 3 * 1024 * 1024
    assert limits.max_function_result() == limits.DEFAULT_MAX_FUNCTION_RESULT


@pytest.mark.parametrize("expression, data, unit", [
    ("to_string(@)", list(range(60)), "characters"),  # a standard function
    ("join('', @)", ["x" * 60, "y" * 60], "characters"),
    ("split(@, '')", "x" * 150, "entries"),
    ("regex_replace_all('a', @, '$0$0$0')", "a" * 50, "characters"),
    ("base64_decode(@)", "eHh4" * 40, "characters"),
    ("replace_all(@, 'a', 'bbb')", "a" * 50, "characters"),
    ("items(@, 'k', 'v')", {f"k{i}": i for i in range(101)}, "entries"),
])
def test_every_function_result_is_held_to_the_limit(jp: JMESPath, small_limit: int, expression: str,
                                                    data: object, unit: str) -> None:
    function = expression.split("(", 1)[0]
    with pytest.raises(JMESPathError) as info:
        jp.search(expression, data)
    message = str(info.value)
    assert message.startswith(f"JMESPath function '{function}': the result is too large")
    assert f"the limit is {small_limit} characters or entries; set {limits.ENV} to change it" in message


def test_results_within_the_limit_are_untouched(jp: JMESPath, small_limit: int) -> None:
    assert jp.search("to_string(@)", ["x" * 90]) == '["' + "x" * 90 + '"]'
    assert jp.search("split(@, '')", "x" * 100) == ["x"] * 100


def test_amplifying_functions_stop_before_building_the_result(small_limit: int) -> None:
    # called directly, past the dispatch check: they refuse before the result exists
    with pytest.raises(JMESPathError, match="'replace_all': the result is too large"):
        strings.replace_all("a" * 1000, "a", "b" * 1_000_000)
    with pytest.raises(JMESPathError, match="'replace': the result is too large"):
        strings.replace("a" * 1000, "", "b" * 1_000_000, -1)
    with pytest.raises(JMESPathError, match="'regex_replace_all': the result is too large"):
        regex.regex_replace_all("a", "a" * 1000, "b" * 1_000_000)
    with pytest.raises(JMESPathError, match="'regex_replace_all_literal': the result is too large"):
        regex.regex_replace_all_literal("a", "a" * 1000, "b" * 1_000_000)


def test_the_limit_is_read_when_functions_run(jp: JMESPath, monkeypatch: pytest.MonkeyPatch) -> None:
    assert jp.search("split(@, '')", "x" * 20) == ["x"] * 20
    monkeypatch.setenv(limits.ENV, "10")
    with pytest.raises(JMESPathError, match="20 entries"):
        jp.search("split(@, '')", "x" * 20)


@pytest.mark.parametrize("value", ["0", "-5", "lots", "1.5"])
def test_an_invalid_limit_is_an_error_saying_what_to_set(jp: JMESPath, monkeypatch: pytest.MonkeyPatch,
                                                          value: str) -> None:
    monkeypatch.setenv(limits.ENV, value)
    with pytest.raises(JMESPathError, match=f"{limits.ENV} must be a positive integer"):
        jp.search("to_upper('x')", {})
