"""verno.core.yamlio: Kubernetes meaning of YAML, fast path == reference path, bounded failure modes."""
from __future__ import annotations

import math
import re
from typing import Any

import pytest
import yaml
import yaml_rs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verno.core import yamlio
from verno.core.errors import LoadError
from verno.core.yamlio import iter_documents, load_document

REJECTED = (yamlio._DocError, yaml.YAMLError)


def reference(text: str) -> Any:
    """The event-based reference path, bypassing the yaml_rs fast path."""
    return yamlio._build_document(text)


def fast(text: str) -> Any:
    return yamlio._fast(text)


def same(a: Any, b: Any) -> bool:
    """Equality that treats NaN as equal to NaN and tells bool, int and float apart."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


# ---------------------------------------------------------------------------------------------------------
# The Kubernetes meaning of scalars (go-yaml v2 through sigs.k8s.io/yaml)
# ---------------------------------------------------------------------------------------------------------

SCALARS: list[tuple[str, Any]] = [
    ("yes", True), ("Yes", True), ("YES", True), ("y", True), ("Y", True), ("on", True), ("ON", True),
    ("no", False), ("No", False), ("n", False), ("N", False), ("off", False), ("Off", False),
    ("true", True), ("True", True), ("TRUE", True), ("false", False), ("FALSE", False),
    ("tRUE", "tRUE"), ("yEs", "yEs"), ("oN", "oN"),
    ("null", None), ("Null", None), ("NULL", None), ("~", None), ("", None), ("nULL", "nULL"),
    ("017", 15), ("0o17", 15), ("0O17", 15), ("0x1F", 31), ("0X1f", 31), ("-0x1F", -31), ("0b101", 5),
    ("-0b101", -5), ("0b-101", -5), ("1_000", 1000), ("0", 0), ("-0", 0), ("+12", 12), ("00", 0),
    ("08", 8.0), ("09.5", 9.5), ("9223372036854775807", 9223372036854775807),
    ("18446744073709551615", 18446744073709551615), ("18446744073709551616", 1.8446744073709552e19),
    ("1:30", "1:30"), ("190:20:30", "190:20:30"),
    ("1e3", 1000.0), ("1E3", 1000.0), ("1.0e+3", 1000.0), ("1.5", 1.5), (".5", 0.5), ("-.5", -0.5),
    ("+.5", 0.5), ("5.", 5.0), ("1_000.5", 1000.5), ("1e400", "1e400"), ("1e-400", 0.0),
    (".inf", math.inf), (".Inf", math.inf), ("+.INF", math.inf), ("-.inf", -math.inf), (".iNf", ".iNf"),
    (".nan", math.nan), (".NaN", math.nan), ("+.nan", "+.nan"), (".5_5", 0.55),
    ("2001-12-14", "2001-12-14"), ("2001-12-14T21:59:43.10-05:00", "2001-12-14T21:59:43.10-05:00"),
    ("2001-12-14 21:59:43.10 -5", "2001-12-14 21:59:43.10 -5"),
    ("500m", "500m"), ("128Mi", "128Mi"), ("1.14.2", "1.14.2"), ("v1", "v1"), ("0x", "0x"), ("-", None),
    ("'yes'", "yes"), ('"017"', "017"), ("'1:30'", "1:30"), ('"2001-12-14"', "2001-12-14"),
    ("!!str yes", "yes"), ("!!int '017'", 15), ("!!float 1", 1.0), ("!!bool yes", True),
    ("!!timestamp 2001-12-14", "2001-12-14"), ("!!binary aGVsbG8=", "hello"), ("!custom 12", "12"),
    ("! 12", "12"), ("|\n  yes\n  017\n", "yes\n017\n"), (">-\n  on\n  off\n", "on off"),
]


@pytest.mark.parametrize(("scalar", "expected"), SCALARS)
def test_scalar_meaning(scalar: str, expected: Any) -> None:
    text = f"a: {scalar}"
    if scalar == "-":
        assert list(iter_documents("a:\n-\n", "t")) == [(0, {"a": [None]})]
        return
    [(_, doc)] = iter_documents(text, "t")
    assert same(doc["a"], expected), (scalar, doc)
    [(_, in_seq)] = iter_documents(f"- {scalar}\n" if not scalar.startswith(("|", ">")) else text, "t")
    assert same(in_seq, [expected] if isinstance(in_seq, list) else {"a": expected})


@pytest.mark.parametrize(("scalar", "expected"), SCALARS)
def test_fast_path_agrees_or_defers(scalar: str, expected: Any) -> None:
    """Every scalar either takes the reference path or yaml_rs gives the Kubernetes meaning."""
    for text in (f"a: {scalar}\n", f"[{scalar}]\n", f"{{k: {scalar}}}\n", f"- {scalar}\n"):
        try:
            ref = reference(text)
        except REJECTED:
            continue
        got = fast(text)
        assert got is yamlio._MISSING or same(got, ref), (text, got, ref)


@pytest.mark.parametrize(("text", "expected"), [
    ("1: a\n-1: b\n1.5: c\n1e6: d\n0.1: e\ntrue: f\nyes: g\nNo: h\n", {
        "1": "a", "-1": "b", "1.5": "c", "1e+06": "d", "0.1": "e", "true": "g", "false": "h"}),
    ("0x10: a\n017: b\n.inf: c\n-.inf: d\n.nan: e\n100000: f\n1e-5: g\n", {
        "16": "a", "15": "b", ".inf": "c", "-.inf": "d", ".nan": "e", "100000": "f", "1e-05": "g"}),
    ("'1': quoted\n1: plain\n", {"1": "plain"}),
])
def test_keys_become_json_strings(text: str, expected: dict) -> None:
    [(_, doc)] = iter_documents(text, "t")
    assert doc == expected


@pytest.mark.parametrize(("text", "message"), [
    ("~: x\n", "line 1: unsupported map key: null"),
    ("? [1, 2]\n: x\n", "line 1: invalid map key: a sequence"),
    ("{a: 1}: x\n", "line 1: invalid map key: a mapping"),
    ("a: !!int abc\n", "line 1: cannot decode !!str `abc` as a !!int"),
    ("a: *missing\n", "line 1: unknown anchor 'missing' referenced"),
    ("a: &x\n  b: *x\n", "line 2: anchor 'x' value contains itself"),
    ("a: b\n<<: [1]\n", "map merge requires map or sequence of maps as the value"),
])
def test_semantic_errors(text: str, message: str) -> None:
    with pytest.raises(LoadError) as err:
        list(iter_documents(text, "f.yaml"))
    assert message in str(err.value)
    assert str(err.value).startswith("f.yaml (document 1): ")


def test_duplicate_keys_last_wins_on_both_paths() -> None:
    text = "a: 1\nb: 2\na: 3\n"
    assert fast(text) == reference(text) == {"a": 3, "b": 2}
    assert list(reference(text)) == list(fast(text)) == ["a", "b"]


def test_merge_keys_follow_go_yaml_v2() -> None:
    text = ("base: &base {a: 1, b: 2}\nother: &other {b: 20, c: 30}\n"
            "first:\n  <<: *base\n  b: 3\n"
            "after:\n  b: 3\n  <<: *base\n"
            "many:\n  <<: [*base, *other]\n")
    [(_, doc)] = iter_documents(text, "t")
    assert doc["first"] == {"a": 1, "b": 3}
    assert doc["after"] == {"a": 1, "b": 2}  # go-yaml v2 merges in place: later keys overwrite
    assert doc["many"] == {"a": 1, "b": 2, "c": 30}  # earlier maps take precedence


def test_aliases_are_independent_copies() -> None:
    [(_, doc)] = iter_documents("a: &x {k: [1]}\nb: *x\n", "t")
    assert doc == {"a": {"k": [1]}, "b": {"k": [1]}}
    doc["b"]["k"].append(2)
    assert doc["a"] == {"k": [1]}


# ---------------------------------------------------------------------------------------------------------
# Fast path == reference path over generated documents
# ---------------------------------------------------------------------------------------------------------

PLAIN_WORDS = ["yes", "no", "on", "off", "y", "n", "Y", "NO", "True", "false", "NULL", "null", "~", "tRUE",
               "017", "0x1F", "0o17", "0b11", "1_000", "1:30", "1e3", "1E-2", "1.5e300", "1e400", ".inf",
               "-.Inf", ".NaN", ".iNf", "2001-12-14", "2001-12-14T21:59:43Z", "12", "-7", "+3", "0", "1.",
               ".5", "00", "08", "1.2.3", "500m", "128Mi", "nginx:1.14", "hello", "a b", "v1.2", "1-2",
               "99999999999999999999", "123456789012345678", "0.000001", "3.14159", "-0.0", "x_y"]
plain_word = st.sampled_from(PLAIN_WORDS) | st.text(
    alphabet="0123456789.+-_:eExXoObBinfaINFAtrueyYsSnN~ ", min_size=1, max_size=8).map(str.strip).filter(
    lambda s: s and s[0] not in "-:?~" and s[-1] != ":" and ": " not in s and " #" not in s)


@st.composite
def scalar_text(draw: st.DrawFn) -> str:
    word = draw(plain_word)
    style = draw(st.sampled_from(["plain", "plain", "plain", "single", "double", "tag"]))
    if style == "single":
        return "'" + word.replace("'", "''") + "'"
    if style == "double":
        return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if style == "tag":
        return "!!str " + word
    return word


@st.composite
def document(draw: st.DrawFn) -> str:
    lines = []
    for i in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["map", "seq", "flow", "key", "nested"]))
        value = draw(scalar_text())
        if kind == "map":
            lines.append(f"k{i}: {value}")
        elif kind == "seq":
            lines.append(f"k{i}:\n- {value}\n- {draw(scalar_text())}")
        elif kind == "flow":
            lines.append(f"k{i}: [{value}, {draw(scalar_text())}]")
        elif kind == "key":
            lines.append(f"{value}: k{i}")
        else:
            lines.append(f"k{i}:\n  inner: {value}\n  list: [{draw(scalar_text())}]")
    return "\n".join(lines) + "\n"


def _check_paths_agree(text: str) -> None:
    try:
        ref = reference(text)
    except REJECTED:
        return  # the reference path rejects it: iter_documents reports that error
    got = fast(text)
    if got is not yamlio._MISSING:
        assert same(got, ref), (text, got, ref)
    [(_, doc)] = iter_documents(text, "t") if ref is not None else [(0, None)]
    assert same(doc, ref)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document())
def test_fast_path_equals_reference(text: str) -> None:
    _check_paths_agree(text)


@settings(max_examples=1500, deadline=None)
@given(plain_word)
def test_unflagged_plain_words_mean_the_same_in_yaml_rs(word: str) -> None:
    """The core safety property: a value the scan lets through means the same to yaml_rs."""
    for text in (f"a: {word}\n", f"a: [{word}]\n", f"- {word}\n", f"{{a: {word}}}\n"):
        if yamlio._unsafe(text):
            continue
        try:
            got = yaml_rs.loads(text, **yamlio._RS_OPTIONS)
        except yaml_rs.YAMLDecodeError:
            continue
        assert same(got, reference(text)), (text, got, reference(text))


def test_common_kubernetes_documents_take_the_fast_path() -> None:
    text = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-1\n  labels: {app: web, tier: '1'}\n"
            "spec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n      - name: web\n"
            "        image: nginx:1.14.2\n        args: [\"--port\", \"8080\"]\n"
            "        resources: {limits: {cpu: 500m, memory: 128Mi}}\n        ports:\n"
            "        - containerPort: 8080\n          protocol: TCP\n"
            "        securityContext: {runAsNonRoot: true, allowPrivilegeEscalation: false}\n")
    assert not yamlio._unsafe(text)
    assert fast(text) == reference(text)


# ---------------------------------------------------------------------------------------------------------
# Documents, JSON, errors
# ---------------------------------------------------------------------------------------------------------


def test_document_indices_count_empty_documents() -> None:
    text = "# header\n---\na: 1\n---\n---\nb: 2\n...\n# between\n---\nc: 3\n...\nd: 4\n"
    assert list(iter_documents(text, "t")) == [(0, {"a": 1}), (2, {"b": 2}), (3, {"c": 3}), (4, {"d": 4})]


def test_bare_first_document_and_comment_only_file() -> None:
    assert list(iter_documents("a: 1\n---\nb: 2\n", "t")) == [(0, {"a": 1}), (1, {"b": 2})]
    assert list(iter_documents("# nothing here\n\n", "t")) == []
    assert list(iter_documents("", "t")) == []


def test_directives_belong_to_the_next_document() -> None:
    text = "a: 1\n...\n%TAG !k! tag:example.com,2024:\n---\nb: !k!thing yes\n"
    assert list(iter_documents(text, "t")) == [(0, {"a": 1}), (1, {"b": "yes"})]


def test_iter_documents_is_lazy() -> None:
    text = "a: 1\n---\nb: [\n"  # the second document is broken
    it = iter_documents(text, "t")
    assert next(it) == (0, {"a": 1})
    with pytest.raises(LoadError, match=r"\(document 2\): line 4: did not find expected node content"):
        next(it)


def test_json_documents() -> None:
    assert list(iter_documents('  {"kind": "List", "items": [{"a": 1}]}', "j")) == [
        (0, {"kind": "List", "items": [{"a": 1}]})]
    assert list(iter_documents("[1, 2.0, true, null]", "j")) == [(0, [1, 2.0, True, None])]
    assert list(iter_documents("{a: yes}\n", "j")) == [(0, {"a": True})]  # YAML flow, not JSON
    assert list(iter_documents("null", "j")) == []


def test_crlf_and_bom() -> None:
    assert list(iter_documents("\ufeffa: yes\r\nb: 017\r\n", "t")) == [(0, {"a": True, "b": 15})]


@pytest.mark.parametrize(("text", "message"), [
    ("a: 1\nb:\n  c: 1\n d: 2\n", "line 4: did not find expected key"),
    ("a: 1\nb: [1, 2\n", "line 3: did not find expected ',' or ']'"),
    ("x: 1\n---\n\nkey: value: other\n", "(document 2): line 4: mapping values are not allowed in this context"),
    ("a: 'unterminated\n", "found unexpected end of stream"),
    ("a:\tb\n\t- c\n", "line 2:"),
])
def test_syntax_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(LoadError) as err:
        list(iter_documents(text, "bad.yaml"))
    assert message in str(err.value)
    assert str(err.value).startswith("bad.yaml (document ")
    assert "\n" not in str(err.value)


def test_load_document_line_offset() -> None:
    with pytest.raises(LoadError, match=r"line 12: "):
        load_document("a: b: c\n", "f", index=3, line=11)


# ---------------------------------------------------------------------------------------------------------
# Bounded failure: alias bombs, deep nesting
# ---------------------------------------------------------------------------------------------------------

BILLION_LAUGHS = "\n".join(
    [f"a0: &a0 [{', '.join(['lol'] * 9)}]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]) + "\n"


def test_alias_bomb_fails_fast() -> None:
    with pytest.raises(LoadError, match="alias bomb"):
        list(iter_documents(BILLION_LAUGHS, "bomb.yaml"))


def test_alias_bomb_in_yaml_rs_is_bounded_too() -> None:
    with pytest.raises(yaml_rs.YAMLDecodeError):
        yaml_rs.loads(BILLION_LAUGHS, **yamlio._RS_OPTIONS)


def test_moderate_aliases_are_fine() -> None:
    text = "a: &a [1, 2, 3]\nb: [*a, *a, *a]\n"
    assert list(iter_documents(text, "t")) == [(0, {"a": [1, 2, 3], "b": [[1, 2, 3]] * 3})]


@pytest.mark.parametrize("text", [
    "[" * 10_000 + "]" * 10_000,
    "a: " + "[" * 10_000 + "]" * 10_000,
    "".join(" " * i + "a:\n" for i in range(10_000)),
    "- " * 10_000 + "x\n",
    "{\"a\": " * 10_000 + "1" + "}" * 10_000,
    "a: &x " + "[" * 200 + "]" * 200 + "\nb: " + "[" * 100 + "*x" + "]" * 100 + "\n",
])
def test_deep_nesting_is_a_clear_error(text: str) -> None:
    with pytest.raises(LoadError, match=f"nested more than {yamlio.MAX_DEPTH} levels|exceeded maximum nesting depth"):
        list(iter_documents(text, "deep.yaml"))


def test_nesting_up_to_the_limit_is_accepted() -> None:
    depth = yamlio.MAX_DEPTH
    [(_, doc)] = iter_documents("a: " + "[" * (depth - 1) + "]" * (depth - 1), "t")
    [(_, js)] = iter_documents("[" * depth + "]" * depth, "t")
    assert yamlio._depth(doc) == yamlio._depth(js) == depth


_TRICKY_TEXT = st.text(alphabet='[]{}"\\ab\n\u00e9\u2603', max_size=8)
_JSON_VALUES = st.recursive(
    st.none() | st.integers() | _TRICKY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TRICKY_TEXT, inner, max_size=3),
    max_leaves=30,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_JSON_VALUES, st.booleans())
def test_json_depth_from_the_text_is_the_depth_of_the_parsed_value(value: Any, ascii_only: bool) -> None:
    """Brackets, quotes and backslashes inside strings never count, escaped or not."""
    import json
    from unittest import mock

    text = json.dumps(value, ensure_ascii=ascii_only)
    depth = yamlio._depth(value)
    for limit in range(1, 7):
        with mock.patch.object(yamlio, "MAX_DEPTH", limit):
            assert yamlio._json_too_deep(text) == (depth > limit), (limit, depth)


def test_json_nested_past_the_limit_inside_a_list_is_a_clear_error() -> None:
    import json

    deep: Any = "x"
    for _ in range(yamlio.MAX_DEPTH):
        deep = {"a": [deep]} if isinstance(deep, list) else [deep]
    text = json.dumps({"kind": "List", "items": [{"kind": "Pod", "note": "[[[\\\"{{"}, deep]})
    with pytest.raises(LoadError, match=f"nested more than {yamlio.MAX_DEPTH} levels"):
        list(iter_documents(text, "deep.json"))


def test_count_documents_matches_what_iteration_and_list_flattening_give():
    from verno.core.yamlio import count_documents

    text = (
        "# leading comment\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n---\n"
        "apiVersion: v1\nkind: List\nitems:\n- {kind: Pod, metadata: {name: b}}\n- {kind: Pod, metadata: {name: c}}\n"
        "---\nkind: ConfigMap\nmetadata: {name: d}\n"
    )
    assert count_documents(text, "t.yaml") == 4
    assert count_documents('{"kind": "List", "items": [{"kind": "Pod"}, {"kind": "Pod"}]}', "t.json") == 2
    assert count_documents('{"kind": "Pod"}', "t.json") == 1


@pytest.mark.parametrize("token", ["1.0.0", "10.0.0.1", "0.1.0", "1.0.0-rc1", "2.14.3.7"])
def test_dotted_versions_take_the_fast_path_with_the_same_meaning(token: str) -> None:
    text = f"version: {token}\nimage: nginx:{token}\n"
    assert not yamlio._unsafe(text)
    assert yamlio._fast(text) == yamlio._build_document(text) == {"version": token, "image": f"nginx:{token}"}


@pytest.mark.parametrize("token", ["1.2.3e5", "1.2.3_4", "1.2e3.4", "1.2.3:4", "1x.2.3"])
def test_dotted_tokens_with_other_number_characters_still_fall_back(token: str) -> None:
    assert yamlio._unsafe(f"v: {token}\n")


# ---------------------------------------------------------------------------------------------------------
# Exactness under hostile input: the public reader == the reference loader, or both reject
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "rules:\n- name: a\n  x: \"b\x00\"\n- name: c\n",  # yaml_rs stops at a NUL and keeps what came before
    "a: 1\nb: x\x00y\nc: 3\n",
    "a: x\x01y\n", "a: x\x1b[0m\n", "a: x\x7fy\n", "a: x\x80y\n", "a: x\x9fy\n", "a: x\ufffey\n",
])
def test_control_characters_are_an_error_naming_file_document_and_line(text: str) -> None:
    with pytest.raises(REJECTED):
        reference(text)
    with pytest.raises(LoadError) as err:
        list(iter_documents("kind: Pod\n---\n" + text, "policy.yaml"))
    line = 2 + text.count("\n", 0, yamlio._NON_PRINTABLE.search(text).start()) + 1
    assert str(err.value).startswith(f"policy.yaml (document 2): line {line}, column ")
    assert "control characters are not allowed" in str(err.value)


def test_a_lone_surrogate_is_an_error_not_a_traceback() -> None:
    with pytest.raises(LoadError, match=r"t \(document 1\): line 2, column 4: invalid Unicode: "
                                        r"a lone surrogate U\+D800"):
        load_document("a: 1\nb: \ud800\n", "t")
    with pytest.raises(LoadError, match="invalid Unicode character escape code"):
        list(iter_documents('{"a": "\\ud800"}', "t"))
    assert list(iter_documents('{"a": "\\ud83d\\ude00"}', "t")) == [(0, {"a": "\U0001F600"})]


@pytest.mark.parametrize("text", [
    "a:\n- |\n x",  # a block scalar cut off by the end of the text: no line break is added
    "a: |  # c\n  x", "a: >\n\n  x", "|1\n  x",
    "|\n", ">\n", "a: |\n", "a: |\n  \n", "- |\n",  # an empty block scalar at the end of a document
    "a: |\r\n", "a: |\r\n  \r\n", "- >\r\n",
    "|\n0",  # a root block scalar with its content in column 0
    "\ta: 1\n", "- \ta\n", "a: 1\n\t\nb: 2\n", "a: |\n  x\n\t\n",  # tabs YAML 1.1 does not take
    "&: x\n",  # an anchor name YAML 1.1 does not take
    "a: {b: |}\n", "a: [x, >y]\n",  # block scalar indicators starting a token in a flow collection
    'a: "\\ud83d\\ude00"\n',  # a surrogate pair escape: YAML 1.1 has none
])
def test_texts_yaml_rs_reads_otherwise_take_the_reference_path(text: str) -> None:
    _check_reader_is_reference(text)


_JSON_SPECIALS = ['{"a": NaN}', '{"a": -Infinity}', '{"a": 18446744073709551616}', '{"a": 1e400}',
                  '{"a": -9223372036854775809}', '{"a": 123456789012345678901234567890}']


@pytest.mark.parametrize("text", _JSON_SPECIALS)
def test_json_numbers_mean_what_the_reference_path_reads(text: str) -> None:
    [(_, got)] = iter_documents(text, "j")
    assert same(got, reference(text))


def _outcome(read: Any, text: str) -> tuple[str, Any]:
    try:
        return "ok", read(text)
    except (LoadError, *REJECTED):
        return "error", None


def _check_reader_is_reference(text: str) -> None:
    """verno's reader gives what the reference loader gives, or both reject the text."""
    want = _outcome(reference, text)
    got = _outcome(lambda t: load_document(t, "t"), text)
    assert got[0] == want[0] and same(got[1], want[1]), (text, got, want)


# Documents of many shapes: block and flow collections, plain, quoted and block scalars, YAML 1.1 specials,
# numbers, timestamps, tags, anchors, aliases and merge keys, unicode, and characters YAML forbids. A
# document is either "tame" (most of it takes the yaml_rs fast path) or "wild" (the reference path mostly).
HOSTILE_CHARS = "\x00\x01\x08\x0b\x0c\x1b\x1f\x7f\x80\x84\x85\x9f\xa0\u2028\u2029\ufeff\ufffe\uffff\t\r"
SPECIAL_WORDS = PLAIN_WORDS + ["0777", "1_000", "1:30", "-1:30:00", "~", "<<", "=",
                               "2001-12-14 21:59:43.10 -5", "0x_1", "+0b1", "0.", "-", "--", "- x", "a #b",
                               "a: b", "?", "|", ">", "%x", "@x",
                               "`x", "!x", "&x", "*x", "é", "日本", "\U0001F600", "\u200b"]
_TAME_WORD = st.text(alphabet="abcxz019 -_./:=@é日", min_size=1, max_size=8).map(str.strip).filter(
    lambda s: s[:1].isalnum() and ": " not in s and not s.endswith(":"))
_WILD_WORD = st.text(alphabet=st.characters(exclude_categories=("Cs",)) | st.sampled_from(HOSTILE_CHARS),
                     max_size=5)
_TAME_KEYS = ["name", "kind", "spec", "a", "b", "x z", "é", "\"q\"", "'s'", "a-b", "a.b/c"]
_WILD_KEYS = ["yes", "on", "1", "0x1", "1.5", "~", "null", "<<", "? c", "[a]", "*a"]


def json_escape(word: str) -> str:
    import json

    return json.dumps(word)[1:-1]


@st.composite
def _word(draw: st.DrawFn, wild: bool) -> str:
    pick = draw(st.integers(0, 9))
    if pick < (4 if wild else 8):
        return draw(_TAME_WORD)
    if pick < (7 if wild else 10):
        return draw(st.sampled_from(SPECIAL_WORDS))
    return draw(_WILD_WORD)


@st.composite
def _scalar(draw: st.DrawFn, indent: int, wild: bool) -> str:
    word = draw(_word(wild))
    style = draw(st.sampled_from(["plain"] * 6 + ["single", "double", "double", "literal", "folded"]
                                 + (["tag"] if wild else [])))
    if style == "single":
        return "'" + word.replace("'", "''") + "'"
    if style == "double":
        escaped = word.replace("\\", "\\\\").replace('"', '\\"')
        return '"' + (escaped if draw(st.booleans()) else json_escape(word)) + '"'
    if style in ("literal", "folded"):
        header = ("|" if style == "literal" else ">") + draw(st.sampled_from(["", "-", "+", "2"]))
        pad = " " * (indent + 4)  # deeper than the key or dash the scalar follows
        lines = [draw(_word(wild)) for _ in range(draw(st.integers(0, 3)))]
        return header + "".join("\n" + (pad + line if line.strip() else line) for line in lines)
    if style == "tag":
        return draw(st.sampled_from(["!!str", "!!int", "!!float", "!!bool", "!!null", "!!binary",
                                     "!!timestamp", "!", "!custom"])) + " " + word
    return word


@st.composite
def _key(draw: st.DrawFn, wild: bool) -> str:
    return draw(st.sampled_from(_TAME_KEYS + (_WILD_KEYS if wild else [])))


@st.composite
def _node(draw: st.DrawFn, indent: int, depth: int, wild: bool) -> str:
    """A node's text as it follows ``key:`` or ``-`` (block collections start on the next line)."""
    kinds = ["scalar"] * 3 + ["map", "map", "seq", "seq", "flow"] if depth < 3 else ["scalar"]
    kind = draw(st.sampled_from(kinds + (["alias"] if wild else [])))
    anchor = draw(st.sampled_from([""] * 4 + ["&a ", "&b "])) if wild else ""
    if kind == "scalar":
        return anchor + draw(_scalar(indent, wild))
    if kind == "alias":
        return draw(st.sampled_from(["*a", "*b", "*c"]))
    if kind == "flow":
        items = [draw(_flow(depth + 1, wild)) for _ in range(draw(st.integers(0, 3)))]
        if draw(st.booleans()):
            return anchor + "[" + ", ".join(items) + "]"
        return anchor + "{" + ", ".join(f"{draw(_key(wild))}: {item}" for item in items) + "}"
    pad = " " * (indent + 2)
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        child = draw(_node(indent + 2, depth + 1, wild))
        lead = f"{draw(_key(wild))}:" if kind == "map" else "-"
        lines.append(f"{pad}{lead}{'' if child.startswith(chr(10)) else ' '}{child}")
    return (anchor.rstrip() + "\n" if anchor else "\n") + "\n".join(lines)


@st.composite
def _flow(draw: st.DrawFn, depth: int, wild: bool) -> str:
    if depth < 3 and draw(st.integers(0, 4)) == 0:
        inner = [draw(_flow(depth + 1, wild)) for _ in range(draw(st.integers(0, 2)))]
        return "[" + ", ".join(inner) + "]"
    word = draw(_word(wild))
    forms = [word] * 3 + ["'" + word.replace("'", "''") + "'", '"' + json_escape(word) + '"']
    return draw(st.sampled_from(forms + (["*a", "&a " + word] if wild else [])))


@st.composite
def hostile_document(draw: st.DrawFn) -> str:
    wild = draw(st.booleans())
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        node = draw(_node(-2, 0, wild))
        lines.append(f"{draw(_key(wild))}:{'' if node.startswith(chr(10)) else ' '}{node}")
    text = "\n".join(lines) + draw(st.sampled_from(["\n", "\n", ""]))
    if draw(st.integers(0, 2)) == 0:  # a character dropped somewhere: a control character, a tab, a quote
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(HOSTILE_CHARS + "'\"#:-[]{}&*!|> \n")) + text[at:]
    if draw(st.integers(0, 3)) == 0:
        text = text.replace("\n", "\r\n")
    # a line starting with ``---`` or ``...`` would start another document: iter_documents splits there
    return yamlio._MARKER.sub(lambda m: " " + m.group(), text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_document())
def test_reader_is_the_reference_loader_on_hostile_documents(text: str) -> None:
    _check_reader_is_reference(text)


_JSON_NUMBERS = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400",
                                 "18446744073709551615",
                                 "18446744073709551616", "-9223372036854775808", "-9223372036854775809",
                                 "1.0", "0", "-0", "1E3", "12345678901234567890123"])


@settings(max_examples=200, deadline=None)
@given(st.recursive(
    _JSON_NUMBERS | st.text(max_size=4).map(lambda s: '"' + json_escape(s) + '"') | st.sampled_from(
        ["true", "false", "null", '"\\ud800"', '"\\udc00x"', '"\\ud83d\\ude00"']),
    lambda inner: st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]")
    | st.lists(st.tuples(st.text(max_size=3), inner), max_size=3).map(
        lambda kv: "{" + ", ".join(f'"{json_escape(k)}": {v}' for k, v in kv) + "}"),
    max_leaves=12).filter(lambda t: t.startswith(("[", "{"))))
def test_json_texts_read_as_the_reference_loader_reads_them(text: str) -> None:
    want = _outcome(reference, text)
    if want[0] == "error" and re.search(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F]", text):
        return  # a surrogate pair: JSON's meaning (the character) where YAML 1.1 has none
    try:
        got = ("ok", [doc for _, doc in iter_documents(text, "j")])
    except LoadError:
        got = ("error", None)
    if want[0] == "ok":
        want = ("ok", [] if want[1] is None else [want[1]])
    assert got[0] == want[0] and same(got[1], want[1]), (text, got, want)
