"""The CEL evaluator: compilation, output types, variables, errors, cost bound."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verno.core.cel import (Activation, CELCompileError, CELCostError, CELEvaluationError, VariableSet,
                            environment_for)
from verno.core.cel.syntax import SyntaxError_, parse

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": "web"}},
       "spec": {"containers": [{"name": "a", "image": "nginx:latest", "ports": [{"containerPort": 80}]},
                               {"name": "b", "image": "busybox:1.36"}]}}


@pytest.fixture(scope="module")
def env():
    return environment_for("ValidatingPolicy")


def run(env, expression, inputs=None, variables=None, expect=()):
    program = env.compile(expression, expect=expect, variables=variables)
    return program.evaluate(Activation(inputs if inputs is not None else {"object": POD}, variables))


@pytest.mark.parametrize("expression, expected", [
    ("object.spec.containers.all(c, c.image.contains(':'))", True),
    ("object.spec.containers.exists_one(c, c.image.endsWith(':latest'))", True),
    ("object.spec.containers.map(c, c.name)", ["a", "b"]),
    ("object.spec.containers.filter(c, has(c.ports)).size()", 1),
    ("object.metadata.?labels[?'app'].orValue('')", "web"),
    ("object.metadata.?annotations[?'x'].orValue('none')", "none"),
    ("has(object.spec.hostNetwork)", False),
    ("dyn(1) == 1.0", True),  # heterogeneous equality
    ("dyn(1) < 2.5", True),  # cross-type ordering at runtime
    ("dyn('1') == 1", False),
    ("[0, 1].exists(x, 1 / x == 1)", True),  # an error absorbed by a later true
    ("object.spec.containers.all(i, c, i < 2 && c.name != '')", True),  # two-variable comprehension
    ("cel.bind(n, size(object.spec.containers), n * 2)", 4),
    ("'a,b'.split(',')", ["a", "b"]),
    ("[3, 1, 2].sort()", [1, 2, 3]),
    ("sets.contains([1, 2], [2])", True),
    ("base64.encode(b'hi')", "aGk="),
    ("math.greatest(1, 5, 3)", 5),
    ("regex.replace('abc', 'b', 'x')", "axc"),
])
def test_language_features(env, expression, expected):
    assert run(env, expression) == expected


@pytest.mark.parametrize("expression, detail", [
    ("object.spec.nope", "no such key: nope"),
    ("9223372036854775807 + dyn(1)", "integer overflow"),
    ("1 / dyn(0)", "division by zero"),
    ("object.metadata.name + dyn(1)", "no such overload"),
    ("[0, 1].all(x, 1 / x == 5) || int('x') == 1", "cannot convert string to int"),
    ("string(b'\\xff')", "malformed UTF-8 bytes"),
])
def test_runtime_errors_name_the_expression(env, expression, detail):
    with pytest.raises(CELEvaluationError) as info:
        run(env, expression)
    assert info.value.detail == detail
    assert expression in str(info.value)


def test_comprehension_errors_follow_cel_semantics(env):
    assert run(env, "[0, 1].all(x, 1 / x == 5)") is False  # a false absorbs the error
    with pytest.raises(CELEvaluationError, match="division by zero"):
        run(env, "[0, 1].all(x, 1 / x == 1)")


@pytest.mark.parametrize("expression, expect, message", [
    ("object.spec", ("bool",), "output is expected to be of type bool, got dyn"),
    ("object.metadata.name", ("bool",), "output is expected to be of type bool, got dyn"),
    ("'x'", ("bool",), "output is expected to be of type bool, got string"),
    ("1 + 1.0", (), "found no matching overload for '_+_' applied to '(int, double)'"),
    ("nosuch(1)", (), "undeclared reference to 'nosuch'"),
    ("1 +", (), "syntax error"),
    ("request.userInfo.usernme", (), "undefined field 'usernme'"),
    ("request.uid", (), "undefined field 'uid'"),
    ("namespaceObject.metadata.ownerReferences", (), "undefined field 'ownerReferences'"),
    ("params.x", (), "1:7: undeclared reference to 'params.x'"),
])
def test_compile_errors(env, expression, expect, message):
    with pytest.raises(CELCompileError) as info:
        env.compile(expression, expect=expect)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert info.value.expression == expression


def test_typed_request_fields_compile(env):
    request = {"userInfo": {"username": "alice", "groups": ["a"]}, "operation": "CREATE"}
    assert run(env, "request.userInfo.username + request.operation", {"request": request}) == "aliceCREATE"
    assert run(env, "object == dyn(null)", {"object": None}) is True


def test_params_and_authorizer_only_in_vap():
    vap = environment_for("ValidatingAdmissionPolicy")
    assert vap.compile("params.max").evaluate(Activation({"params": {"max": 3}})) == 3


def test_compile_is_cached(env):
    assert env.compile("object.kind == 'Pod'") is env.compile("object.kind == 'Pod'")


def test_variables_are_typed_lazy_and_memoized(env):
    variables = VariableSet.compile(env, [
        ("containers", "object.spec.containers"),
        ("broken", "object.spec.nope"),
        ("count", "size(variables.containers)"),
        ("isWeb", "object.metadata.labels.app == 'web'"),
        ("replicas", "object.?spec.?replicas"),  # an optional value: inlined where used
    ])
    assert run(env, "variables.count", variables=variables) == 2
    assert run(env, "variables.isWeb", variables=variables, expect=("bool",)) is True  # typed bool
    assert run(env, "false && variables.broken == 1", variables=variables) is False  # lazy
    with pytest.raises(CELEvaluationError) as info:
        run(env, "variables.broken == 1", variables=variables)
    assert info.value.detail == "no such key: nope"
    assert "variables.broken == 1" in str(info.value)
    assert run(env, "variables.replicas.orValue(1)", variables=variables) == 1
    activation = Activation({"object": POD}, variables)
    env.compile("variables.count", variables=variables).evaluate(activation)
    assert set(activation.values) == {"containers", "count"}  # only what was reached


def test_variables_reference_only_earlier_ones(env):
    with pytest.raises(CELCompileError, match="undeclared reference"):
        VariableSet.compile(env, [("a", "variables.b"), ("b", "1")])
    with pytest.raises(CELCompileError, match="defined twice"):
        VariableSet.compile(env, [("a", "1"), ("a", "2")])


def test_variables_unbound_in_match_conditions(env):
    variables = VariableSet.compile(env, [("a", "1")])
    program = env.compile("variables.a == 1", variables=variables)
    with pytest.raises(CELEvaluationError, match="no such attribute: variables.a"):
        program.evaluate(Activation({"object": POD}))  # declared, not bound


def test_or_value_compat_macro():
    vpol = environment_for("ValidatingPolicy")
    assert run(vpol, "object.metadata.orValue({}).name") == "p"
    assert run(vpol, "object.metadata.?nope.orValue('d')") == "d"
    with pytest.raises(CELEvaluationError, match="division by zero"):
        run(vpol, "object.metadata.orValue(1 / dyn(0))")  # the argument's error propagates
    ivpol = environment_for("ImageValidatingPolicy")
    with pytest.raises(CELEvaluationError, match="no such overload"):
        run(ivpol, "object.metadata.orValue({})")


def test_optional_result_is_an_error_not_a_crash(env):
    with pytest.raises(CELEvaluationError, match="no JSON form"):
        run(env, "object.?spec")


def test_cost_bound_refuses_nested_comprehensions_over_large_inputs(env):
    big = {"spec": {"a": list(range(3000))}}
    expression = "object.spec.a.all(x, object.spec.a.all(y, x + y >= 0))"
    with pytest.raises(CELCostError) as info:
        run(env, expression, {"object": big})
    assert "operation cancelled: actual cost limit exceeded" in str(info.value)
    assert run(env, expression, {"object": {"spec": {"a": list(range(20))}}}) is True


def test_cost_bound_refuses_unbounded_range_and_growth(env):
    with pytest.raises(CELCostError, match="lists.range"):
        run(env, "lists.range(object.n).size()", {"object": {"n": 10**12}})
    assert run(env, "lists.range(3)") == [0, 1, 2]
    grow = {"s": "x" * 100_000, "l": list(range(2000))}
    with pytest.raises(CELCostError):
        run(env, "object.l.map(i, object.s + object.s).size() > 0", {"object": grow})


def test_runtime_iteration_budget_is_a_cost_error(env):
    with pytest.raises(CELCostError):
        run(env, "lists.range(100).all(x, lists.range(101).all(y, true))")


def test_parser_bounds_nesting():
    with pytest.raises(SyntaxError_, match="recursion limit"):
        parse("(" * 300 + "1" + ")" * 300)
    with pytest.raises(SyntaxError_, match="recursion limit"):
        parse("a" + ".b" * 500)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ab()[]{}.?!:,'\"+-*/ 01xyz&|=<>", max_size=40))
def test_any_text_compiles_or_fails_cleanly(text):
    env = environment_for("ValidatingPolicy")
    try:
        program = env.compile(text)
    except CELCompileError:
        return
    try:
        program.evaluate(Activation({"object": POD}))
    except CELEvaluationError:
        pass


def test_plugin_library_registration_through_the_engine_and_duplicates():
    from verno.core.cel import Library
    from verno.core.cel.environment import Environment, EnvironmentSpec
    from verno.core.engine import Engine
    from verno.core.errors import PluginError
    from verno.core.hookspecs import hookimpl

    class Acme:
        @hookimpl
        def verno_register_cel_libraries(self, register):
            lib = Library("acme.tenancy")
            lib.fn("tenantOf", ["string"], "string", lambda ns: ns.partition("-")[0])
            lib.fn("shout", ["string"], "string", lambda s: s.upper() + "!", member=True)
            lib.fn("fails", ["string"], "string", lambda s: 1 / 0)
            register(lib)

    engine = Engine([("acme", Acme())], load_entrypoints=False)
    assert engine.cel_libraries.by_plugin("acme") == ["acme.tenancy"]
    assert next(p for p in engine.plugin_summary() if p["name"] == "acme")["cel_libraries"] == ["acme.tenancy"]
    env = Environment(EnvironmentSpec("Test", {"object": "dyn"}, ("acme.tenancy",)), engine.cel_libraries)
    activation = Activation({"object": {"ns": "team-a"}})
    assert env.compile("tenantOf(object.ns)").evaluate(activation) == "team"
    assert env.compile("'hi'.shout()").evaluate(activation) == "HI!"
    with pytest.raises(CELEvaluationError, match=r"fails \(library acme.tenancy \(plugin acme\)\) raised "
                                                 r"ZeroDivisionError"):
        env.compile("fails('x')").evaluate(activation)
    with pytest.raises(PluginError, match="registered by both acme and other"):
        engine.cel_libraries.register(Library("acme.tenancy", plugin="other"))

    class Twin:
        @hookimpl
        def verno_register_cel_libraries(self, register):
            register(Library("acme.tenancy"))

    with pytest.raises(PluginError, match="registered by both acme and twin"):
        Engine([("acme", Acme()), ("twin", Twin())], load_entrypoints=False)


def test_engine_environments_carry_the_built_in_libraries_and_plugin_ones():
    from verno.core.cel import Library
    from verno.core.cel import libs as builtin
    from verno.core.engine import Engine
    from verno.core.hookspecs import hookimpl

    engine = Engine([("cel-libraries", builtin)], load_entrypoints=False)
    env = engine.cel_environment("ValidatingPolicy")
    assert env is engine.cel_environment("ValidatingPolicy")
    assert env.registry is engine.cel_libraries
    assert engine.cel_libraries.by_plugin("cel-libraries") == []  # built-in libraries say "verno"
    assert env.compile("sha1('abc') + '/' + parseImageReference('nginx').repository()").evaluate(
        Activation({})) == "a9993e364706816aba3e25717850c26c9cd0d89d/library/nginx"
    # without the built-in plugin the kind's Kyverno functions are unknown
    bare = Engine(load_entrypoints=False)
    with pytest.raises(CELCompileError):
        bare.cel_environment("ValidatingPolicy").compile("sha1('abc') == ''")

    class Extra:
        @hookimpl
        def verno_register_cel_libraries(self, register):
            lib = Library("kyverno.user")  # a kind lists it: a plugin may provide it instead
            lib.fn("parseServiceAccount", ["string"], "map(string, string)", lambda u: {"Name": u})
            register(lib)

    engine = Engine([("extra", Extra())], load_entrypoints=False)
    assert engine.cel_environment("ValidatingPolicy").compile("parseServiceAccount('x').Name").evaluate(
        Activation({})) == "x"


def test_the_built_in_cel_libraries_are_an_entry_point_plugin():
    import tomllib
    from pathlib import Path

    from verno.core.cel import libs

    project = tomllib.loads((Path(__file__).parents[3] / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["verno"]["cel-libraries"] == libs.__name__
    assert callable(libs.verno_register_cel_libraries)


def test_reserved_words_are_fields_after_a_dot_not_identifiers(env):
    pod = {"metadata": {"name": "p", "namespace": "team"}}
    assert run(env, "object.metadata.namespace == 'team'", {"object": pod}) is True
    assert run(env, "object.metadata.?namespace.orValue('') == 'team'", {"object": pod}) is True
    with pytest.raises(CELCompileError, match="reserved identifier 'namespace'"):
        env.compile("namespace == 'team'")


def test_inlined_variables_let_policies_share_one_runtime_activation():
    from verno.core.cel.environment import environment_for
    from verno.core.cel.program import MAX_INLINED, SharedInputs, VariableSet

    env = environment_for("ValidatingPolicy")
    inlined = VariableSet.compile(env, [("images", "object.spec.containers.map(c, c.image)"),
                                        ("latest", "variables.images.filter(i, i.endsWith(':latest'))")],
                                  inline=True)
    check = env.compile("size(variables.latest) == 0", expect=("bool",), variables=inlined)
    assert check.variables == ()  # reads only the inputs
    pod = {"spec": {"containers": [{"image": "a:1"}, {"image": "b:latest"}]}}
    shared = SharedInputs({"object": pod})
    assert Activation(shared, inlined).evaluate(check) is False
    first = shared.runtime
    assert first is not None
    assert Activation(shared, inlined).evaluate(check) is False
    assert shared.runtime is first  # the second policy reused the converted inputs
    # a variable too long to write into its readers stays a declared, memoized one
    long = VariableSet.compile(env, [("big", "'" + "x" * MAX_INLINED + "'")], inline=True)
    assert "big" not in long.inlined and long.declared


def test_a_nul_in_an_input_or_a_variable_value_is_an_evaluation_error(env):
    from verno.core.cel.program import SharedInputs

    program = env.compile("size(object.s)", expect=("int",))
    with pytest.raises(CELEvaluationError, match=r"NUL character .* object\.s"):
        Activation({"object": {"s": "a\u0000b"}}).evaluate(program)
    with pytest.raises(CELEvaluationError, match=r"object\.l\[1\]"):
        Activation(SharedInputs({"object": {"s": "ab", "l": ["x", b"y\x00"]}})).evaluate(program)
    assert Activation({"object": {"s": "ab"}}).evaluate(program) == 2
    # a NUL made inside CEL stays whole (the runtime keeps it); handing it back as a variable is refused
    long = "'a\\u0000b" + "x" * 5000 + "'"
    variables = VariableSet.compile(env, [("v", long)], inline=True)
    assert "v" not in variables.inlined
    check = env.compile("size(variables.v) > 3", expect=("bool",), variables=variables)
    with pytest.raises(CELEvaluationError, match="variables.v"):
        Activation({"object": {}}, variables).evaluate(check)
    assert env.compile("size('a\\u0000b')", expect=("int",)).evaluate(Activation({})) == 3
