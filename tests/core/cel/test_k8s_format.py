"""Kubernetes' CEL ``format`` library, against Kubernetes' own cases (apiserver/pkg/cel/library/format_test.go)
and apimachinery's validation messages."""
from __future__ import annotations

import pytest

from verno.core.cel import Activation, CELCompileError, CELEvaluationError, environment_for
from verno.core.cel import cost as costs
from verno.core.cel.environment import Environment, EnvironmentSpec
from verno.core.cel.library import Library, LibraryRegistry
from verno.core.cel.libs.k8s_format import FORMATS
from verno.core.cel.optional_calls import rewrite_optional_calls, source_positions
from verno.core.cel.syntax import parse

LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
             "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
             "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
               "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
               "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
QNAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
             "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
             "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                   "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
                   "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


@pytest.fixture(scope="module")
def env():
    return environment_for("ValidatingPolicy")


def run(env, expression, **inputs):
    return env.compile(expression).evaluate(Activation(inputs))


def errors(env, fmt, value):
    """``<format>.validate(value)`` as a list: [] when none (valid)."""
    return run(env, f"format.{fmt}().validate(object.v).orValue([])", object={"v": value})


VALID = [
    ("dns1123Label", "my-label-name"), ("dns1123Label", "123-abc"), ("dns1123Label", "a" * 63),
    ("dns1123Subdomain", "apiextensions.k8s.io"), ("dns1123Subdomain", "example.com"),
    ("dns1123Subdomain", ".".join(["a" * 63] * 3) + ".b" * 30),
    ("dns1035Label", "my-label-name"), ("dns1035Label", "abc-123"),
    ("qualifiedName", "apiextensions.k8s.io/v1beta1"), ("qualifiedName", "my.name"), ("qualifiedName", "MyName"),
    ("dns1123LabelPrefix", "my-label-prefix-"), ("dns1123LabelPrefix", "a-"), ("dns1123LabelPrefix", "ab.-"),
    ("dns1123SubdomainPrefix", "mysubdomain.prefix.-"), ("dns1035LabelPrefix", "my-label-prefix-"),
    ("labelValue", "my-cool-label-Value"), ("labelValue", ""), ("labelValue", "12345"),
    ("uri", "http://example.com"), ("uri", "/just/a/path"), ("uri", "mailto:someone@example.com"),
    ("uri", "*"), ("uri", "https://user:pw@[::1]:8443/x?q=%zz#frag"), ("uri", "http:?x"),
    ("uuid", "123e4567-e89b-12d3-a456-426614174000"), ("uuid", "123E4567E89B12D3A456426614174000"),
    ("byte", "aGVsbG8="), ("byte", "aGVsbG8h"), ("byte", "aGk="),
    ("date", "2021-01-01"), ("date", "2020-02-29"), ("date", "2000-02-29"), ("date", "0000-02-29"),
    ("datetime", "2021-01-01T00:00:00Z"), ("datetime", "2020-01-01t23:59:59.123+05:30"),
    ("datetime", "2020-01-01T10:00:00z"),
]


@pytest.mark.parametrize("fmt, value", VALID)
def test_valid_values_give_none(env, fmt, value):
    assert run(env, f"format.{fmt}().validate(object.v).hasValue()", object={"v": value}) is False
    assert errors(env, fmt, value) == []


INVALID = [
    # Kubernetes' format_test.go
    ("dns1123Label", "contains a space", [LABEL_MSG]),
    ("dns1123Subdomain", "contains a space", [SUBDOMAIN_MSG]),
    ("dns1035Label", "contains a space", [DNS1035_MSG]),
    ("qualifiedName", "contains a space", ["name part " + QNAME_MSG]),
    ("dns1123LabelPrefix", "contains a space-", [LABEL_MSG]),
    ("dns1123SubdomainPrefix", "contains a space-", [SUBDOMAIN_MSG]),
    ("dns1035LabelPrefix", "contains a space-", [DNS1035_MSG]),
    ("byte", "aGVsbG8", ["invalid base64"]),
    ("date", "2020-01-32", ["invalid date"]),
    ("datetime", "2020-01-32T00:00:00Z", ["invalid datetime"]),
    ("labelValue", "my-cool-label-Value!!\n\n!!!", [LABEL_VALUE_MSG]),
    # apimachinery's validation functions
    ("dns1123Label", "a" * 64, ["must be no more than 63 characters"]),
    ("dns1123Label", "A" * 64, ["must be no more than 63 characters", LABEL_MSG]),
    ("dns1123Label", "my.name", ["must not contain dots"]),
    ("dns1123Label", "", [LABEL_MSG]),
    ("dns1123Label", "é", [LABEL_MSG]),
    ("dns1123Label", "é" * 32, ["must be no more than 63 characters", LABEL_MSG]),  # 64 bytes
    ("dns1123Label", "-abc", [LABEL_MSG]), ("dns1123Label", "abc-", [LABEL_MSG]),
    ("dns1123Subdomain", "a" * 254, ["must be no more than 253 characters"]),
    ("dns1123Subdomain", "Example.com", [SUBDOMAIN_MSG]),
    ("dns1035Label", "1abc", [DNS1035_MSG]),
    ("dns1035Label", "b" * 64, ["must be no more than 63 characters"]),
    ("qualifiedName", "/name", ["prefix part must be non-empty"]),
    ("qualifiedName", "example.com/", ["name part must be non-empty", "name part " + QNAME_MSG]),
    ("qualifiedName", "Example.com/name", ["prefix part " + SUBDOMAIN_MSG]),
    ("qualifiedName", "a" * 64, ["name part must be no more than 63 characters"]),
    ("qualifiedName", "a/b/c", ["a qualified name " + QNAME_MSG
                                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]),
    ("dns1123LabelPrefix", "a.b-", ["must not contain dots"]),  # masked to "a.a"
    ("labelValue", "a" * 64, ["must be no more than 63 characters"]),
    ("labelValue", "-a", [LABEL_VALUE_MSG]),
    # Go's url.ParseRequestURI
    ("uri", "foo", ['parse "foo": invalid URI for request']),
    ("uri", "", ['parse "": empty url']),
    ("uri", ":foo", ['parse ":foo": missing protocol scheme']),
    ("uri", "http://a b.com/", ['parse "http://a b.com/": invalid character " " in host name']),
    ("uri", "http://host:port/", ['parse "http://host:port/": invalid port ":port" after host']),
    ("uri", "http://[::1/", ['parse "http://[::1/": missing \']\' in host']),
    ("uri", "http://x/%zz", ['parse "http://x/%zz": invalid URL escape "%zz"']),
    ("uri", "/a%4", ['parse "/a%4": invalid URL escape "%4"']),
    ("uri", "http://u|v@host/", ['parse "http://u|v@host/": net/url: invalid userinfo']),
    ("uri", "http://x/\n", ['parse "http://x/\\n": net/url: invalid control character in URL']),
    ("uri", "http://%41b/", ['parse "http://%41b/": invalid URL escape "%41"']),
    ("uri", "ünïcode", ['parse "ünïcode": invalid URI for request']),
    # kube-openapi's formats
    ("uuid", "123e4567-e89b-12d3-a456-42661417400", ["does not match the UUID format"]),
    ("uuid", "g23e4567-e89b-12d3-a456-426614174000", ["does not match the UUID format"]),
    ("byte", "", ["invalid base64"]), ("byte", "aGVsbG8=\n", ["invalid base64"]),
    ("date", "2021-02-29", ["invalid date"]), ("date", "2021-1-01", ["invalid date"]),
    ("date", "2021-13-01", ["invalid date"]), ("date", "2021-01-01T00:00:00Z", ["invalid date"]),
    ("datetime", "2021-01-01", ["invalid datetime"]), ("datetime", "2021-01-01T24:00:00Z", ["invalid datetime"]),
    ("datetime", "2021-01-01T00:00:00", ["invalid datetime"]), ("datetime", "", ["invalid datetime"]),
]


@pytest.mark.parametrize("fmt, value, expected", INVALID)
def test_invalid_values_give_their_messages(env, fmt, value, expected):
    assert run(env, f"format.{fmt}().validate(object.v).hasValue()", object={"v": value}) is True
    assert run(env, f"format.{fmt}().validate(object.v).value()", object={"v": value}) == expected


def test_every_format_is_tested():
    assert {f for f, _ in VALID} == set(FORMATS) == {f for f, _, _ in INVALID}


def test_named_formats(env):
    for name in FORMATS:
        assert run(env, f"format.named('{name}').hasValue()") is True
        assert run(env, f"format.named('{name}').value() == format.{name}()") is True
        others = [o for o in FORMATS if o != name]
        assert run(env, f"format.{name}() == format.{others[0]}()") is False
    assert run(env, "format.named('unknown').hasValue()") is False
    assert run(env, "format.named('DNS1123Label').hasValue()") is False
    assert run(env, "format.named('dns1123Label').value().validate('a_b').orValue([])") == [LABEL_MSG]
    assert run(env, "format.named('nope').orValue(format.uuid()).validate('x').value()") == \
        ["does not match the UUID format"]


def test_typical_policy_uses(env):
    pod = {"metadata": {"name": "Bad_Name"}}
    assert run(env, "!format.dns1123Label().validate(object.metadata.name).hasValue()", object=pod) is False
    assert run(env, "!format.dns1123Label().validate(object.metadata.name).hasValue()",
               object={"metadata": {"name": "good"}}) is True
    assert run(env, "format.dns1123Subdomain().validate(object.metadata.name).value()", object=pod) == \
        [SUBDOMAIN_MSG]
    assert run(env, "format.dns1123Label().validate(object.metadata.name).value().join('\\n')", object=pod) == \
        LABEL_MSG
    assert env.compile("format.dns1123Label().validate('x').orValue([])").output_type == "LIST<STRING>"
    # a valid value has no error list: value() fails as on optional.none()
    with pytest.raises(CELEvaluationError, match="optional.none"):
        run(env, "format.dns1123Label().validate('ok').value()")


def test_prefix_with_a_lone_dash_fails_saying_why(env):
    # apimachinery's maskTrailingDash slices name[:len(name)-2]: Go panics, cel-go reports an internal error;
    # verno fails the call too, in words that say what to do
    with pytest.raises(CELEvaluationError, match=r"cannot check '-' alone"):
        run(env, "format.dns1123LabelPrefix().validate('-')")


def test_wrong_types(env):
    with pytest.raises(CELCompileError, match="no matching overload for 'validate'"):
        env.compile("format.dns1123Label().validate(1)")
    with pytest.raises(CELEvaluationError, match="no such overload: validate applied to string"):
        run(env, "dyn('x').validate('y')")
    with pytest.raises(CELCompileError, match="no matching overload for 'format.named'"):
        env.compile("format.named(1)")


def test_in_every_kind_with_the_kubernetes_libraries():
    for kind in ("ValidatingPolicy", "MutatingPolicy", "ImageValidatingPolicy", "ValidatingAdmissionPolicy",
                 "ClusterPolicy", "NamespacedDeletingPolicy"):
        assert environment_for(kind).compile("format.uuid().validate('x').hasValue()",
                                             expect=("bool",)).evaluate(Activation({})) is True


# ----------------------------------------------------------------------------------- the rewrite
def test_rewrite_appends_an_optional_index_after_each_call():
    functions = frozenset({("format.named", False), ("validate", True)})
    source = "!format.named('a').value().validate(x).hasValue() && f.validate(y) == z"
    text, inserted = rewrite_optional_calls(source, parse(source), functions)
    assert text == "!format.named('a')[?0].value().validate(x)[?0].hasValue() && f.validate(y)[?0] == z"
    assert inserted == [18, 38, 66]
    # idempotent: rewritten text (an inlined variable) is left as it is
    assert rewrite_optional_calls(text, parse(text), functions) == (text, [])
    # a global validate() or another namespace's named() is not one of them
    other = "validate(a, b) || other.named('x')"
    assert rewrite_optional_calls(other, parse(other), functions) == (other, [])


def test_compile_errors_point_into_the_source(env):
    source = "format.dns1123Label().validate('a').hasValue() &&\n  format.uuid().validate(2).hasValue()"
    with pytest.raises(CELCompileError) as info:
        env.compile(source)
    # the runtime reports the call at its '(' (line 2: "  format.uuid().validate(" -> column 25)
    assert "2:25: found no matching overload for 'validate'" in str(info.value)
    assert source_positions("1:9: x; 1:2: y", "ab[?0]cdef", "abcdef", [2]) == "1:5: x; 1:2: y"
    assert source_positions("1:4: x", "ab[?0]cdef", "abcdef", [2]) == "1:3: x"  # inside the suffix


def test_optional_valued_variables_are_inlined_and_rewritten_once(env):
    from verno.core.cel import VariableSet

    variables = VariableSet.compile(env, [("fmt", "format.named(object.f)"),
                                          ("errs", "variables.fmt.value().validate(object.v)")])
    program = env.compile("variables.errs.orValue(['none'])", variables=variables)
    assert program.text.count("[?0]") == 2
    assert program.evaluate(Activation({"object": {"f": "uuid", "v": "x"}}, variables)) == \
        ["does not match the UUID format"]
    assert program.evaluate(Activation({"object": {"f": "byte", "v": "aGk="}}, variables)) == ["none"]


def test_cost_is_bounded_by_the_string_length(env):
    program = env.compile("format.uri().validate(object.v).orValue([]).join(',') + 'x'")
    small = program.estimate(costs.Sizes(1, 100))
    large = program.estimate(costs.Sizes(1, 1_000_000))
    assert large > 1_000_000 > small  # per character, and the quoted message can be 4x the input
    long = "é" * 200_000 + "\u200b" * 200_000
    result = program.evaluate(Activation({"object": {"v": long}}))
    assert result.startswith('parse "é') and result.endswith('\\u200b": invalid URI for requestx')


# ------------------------------------------------------------------------ optional-result functions
def test_a_library_function_may_declare_an_optional_result():
    lib = Library("test.opt")
    lib.fn("opt.first", ["list(int)"], "optional(int)", lambda values: values[:1])
    lib.fn("bad", ["int"], "optional(int)", lambda n: [n, n], member=True)
    registry = LibraryRegistry()
    registry.register(lib)
    env = Environment(EnvironmentSpec("t", {"object": "dyn"}, ("test.opt",)), registry)
    assert env.optional_functions == {("opt.first", False), ("bad", True)}
    assert env.compile("opt.first([4, 5]).orValue(0)").evaluate(Activation({})) == 4
    assert env.compile("opt.first([]).orValue(7)").evaluate(Activation({})) == 7
    assert env.compile("opt.first([]).hasValue()").output_type == "bool"
    with pytest.raises(CELEvaluationError, match="list of at most one element"):
        env.compile("1.bad().orValue(0)").evaluate(Activation({}))
