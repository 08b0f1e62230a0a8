"""CEL environments: the declared variables and libraries of each policy kind, and compilation.

An :class:`Environment` compiles an expression once (``compile`` is cached per expression text and
declared variables) into a :class:`~verno.core.cel.program.Program`. The runtime is Google's CEL C++
implementation (``cel-expr-python``; chosen by measurement, see ``docs/cel.md``) with the cel-go
extensions Kyverno enables: bindings, encoders, lists, math, optional types, regex, sets, strings and
(where the kind has them) two-variable comprehensions.

What the C++ checker cannot express is checked on verno's own syntax tree (:mod:`verno.core.cel.syntax`):
fields of the typed ``request`` and ``namespaceObject`` (a misspelt field is a compile error, as in
Kubernetes), Kyverno's ``orValue`` compatibility macro, and calls of functions that return an optional
(``format.named``, ``<format>.validate``).
"""
from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from verno.core.cel.errors import CELCompileError
from verno.core.cel.library import LibraryRegistry, cel_type
from verno.core.cel.orvalue import rewrite_or_value
from verno.core.cel.syntax import Node, SyntaxError_, parse

__all__ = ["KINDS", "Environment", "EnvironmentSpec", "environment_for"]

BASE_EXTENSIONS = ("bindings", "encoders", "lists", "math", "optional", "regex", "sets", "strings")

# Fields of the typed variables (k8s.io/apiserver admission/plugin/cel/compile.go; Kyverno adds
# object/oldObject to request). None: any field below is allowed (dyn).
REQUEST_FIELDS: Mapping[str, object] = {
    "kind": {"group": None, "version": None, "kind": None},
    "resource": {"group": None, "version": None, "resource": None},
    "subResource": None,
    "requestKind": {"group": None, "version": None, "kind": None},
    "requestResource": {"group": None, "version": None, "resource": None},
    "requestSubResource": None,
    "name": None, "namespace": None, "operation": None,
    "userInfo": {"username": None, "uid": None, "groups": None, "extra": None},
    "dryRun": None, "options": None, "object": None, "oldObject": None,
}
NAMESPACE_FIELDS: Mapping[str, object] = {
    "metadata": {k: None for k in ("name", "generateName", "namespace", "labels", "annotations", "UID",
                                   "creationTimestamp", "deletionGracePeriodSeconds", "deletionTimestamp",
                                   "generation", "resourceVersion", "finalizers")},
    "spec": {"finalizers": None},
    "status": {"conditions": None, "phase": None},
}
TYPED_FIELDS = {"request": REQUEST_FIELDS, "namespaceObject": NAMESPACE_FIELDS}


@dataclass(frozen=True)
class EnvironmentSpec:
    """What one kind's expressions can see. ``variables`` maps a name to its CEL type name."""

    name: str
    variables: Mapping[str, str]
    libraries: tuple[str, ...] = ()
    two_variable_comprehensions: bool = True
    or_value_compat: bool = True
    typed: tuple[str, ...] = ("request", "namespaceObject")
    #: roots of the object types built with message syntax (``Object{...}``, ``JSONPatch{...}``), written
    #: as map literals (:mod:`verno.core.cel.objecttypes`)
    object_types: tuple[str, ...] = ()

    def variant(self, *, add: Mapping[str, str] | None = None, drop: Iterable[str] = ()) -> EnvironmentSpec:
        """The same environment with variables added (name -> CEL type name) or left out."""
        dropped = set(drop)
        variables = {k: v for k, v in self.variables.items() if k not in dropped}
        variables.update(add or {})
        suffix = "".join(f"_with_{k}" for k in sorted(add or {}))
        suffix += "".join(f"_without_{k}" for k in sorted(dropped))
        return dataclasses.replace(self, name=self.name + suffix, variables=variables)


_K8S_LIBS = ("k8s.lists", "k8s.regex", "k8s.urls", "k8s.quantity", "k8s.compare", "k8s.ip", "k8s.cidr",
             "k8s.format",
             "k8s.semver")
# Kyverno's libraries in every kind (x509 not in ImageValidatingPolicy, user only in vpol/mpol/ivpol;
# K: each kind's compiler.go). Namespaced kinds get the namespaced resource library (no namespace argument).
_KYVERNO_LIBS = ("kyverno.hash", "kyverno.math", "kyverno.json", "kyverno.yaml", "kyverno.time",
                 "kyverno.random", "kyverno.transform", "kyverno.gzip", "kyverno.image", "kyverno.x509",
                 "kyverno.resource", "kyverno.http", "kyverno.globalcontext", "kyverno.imagedata")
_DYN = "dyn"
_OBJECT_TYPES = ("Object", "JSONPatch")
_ADMISSION = {"object": _DYN, "oldObject": _DYN, "request": "map(string, dyn)",
              "namespaceObject": "map(string, dyn)"}

KINDS: dict[str, EnvironmentSpec] = {
    "ValidatingPolicy": EnvironmentSpec(
        "ValidatingPolicy", {**_ADMISSION, "exceptions": "map(string, list(string))"},
        _K8S_LIBS + _KYVERNO_LIBS + ("kyverno.user",)),
    "MutatingPolicy": EnvironmentSpec(
        "MutatingPolicy", {**_ADMISSION, "exceptions": "map(string, list(string))"},
        _K8S_LIBS + _KYVERNO_LIBS + ("kyverno.user", "k8s.jsonpatch"), object_types=_OBJECT_TYPES),
    "GeneratingPolicy": EnvironmentSpec(
        "GeneratingPolicy", {**_ADMISSION, "exceptions": "map(string, list(string))"},
        _K8S_LIBS + _KYVERNO_LIBS + ("kyverno.generator",), two_variable_comprehensions=False),
    "DeletingPolicy": EnvironmentSpec(
        "DeletingPolicy", {"object": _DYN, "namespaceObject": "map(string, dyn)"},
        _K8S_LIBS + _KYVERNO_LIBS, two_variable_comprehensions=False),
    "ImageValidatingPolicy": EnvironmentSpec(
        "ImageValidatingPolicy", {**_ADMISSION, "images": "map(string, list(string))",
                                  "attestations": "map(string, string)", "attestors": "map(string, dyn)"},
        _K8S_LIBS + tuple(x for x in _KYVERNO_LIBS if x != "kyverno.x509") + ("kyverno.user", "kyverno.imageverify"),
        or_value_compat=False),
    # Kubernetes' own ValidatingAdmissionPolicy: params and authorizer exist, Kyverno's libraries do not.
    "ValidatingAdmissionPolicy": EnvironmentSpec(
        "ValidatingAdmissionPolicy", {**_ADMISSION, "params": _DYN, "authorizer": _DYN},
        _K8S_LIBS + ("k8s.authz",), or_value_compat=False),
    # Kubernetes' MutatingAdmissionPolicy: the ValidatingAdmissionPolicy environment with the object types
    # of mutations (``Object``, ``JSONPatch``) and ``jsonpatch.escapeKey``.
    "MutatingAdmissionPolicy": EnvironmentSpec(
        "MutatingAdmissionPolicy", {**_ADMISSION, "params": _DYN, "authorizer": _DYN},
        _K8S_LIBS + ("k8s.authz", "k8s.jsonpatch"), or_value_compat=False, object_types=_OBJECT_TYPES),
    # kyverno.io/v1 ClusterPolicy and Policy ``validate.cel`` and ``celPreconditions``: compiled by
    # Kubernetes' ValidatingAdmissionPolicy compiler on its base environment (no Kyverno library).
    # ``params`` is declared only when the rule sets paramKind and paramRef (a ``variant``); message
    # expressions see no ``authorizer``. ``namespaceObject`` is null for a cluster-scoped object (its
    # fields are still checked).
    "ClusterPolicy": EnvironmentSpec(
        "ClusterPolicy", {**_ADMISSION, "namespaceObject": _DYN, "authorizer": _DYN},
        _K8S_LIBS + ("k8s.authz",), or_value_compat=False),
    # ValidatingPolicy in evaluation mode Envoy or HTTP (kyverno-authz): ``object`` is the authorization
    # request; the mode's response library (``envoy`` / ``http``, the latter not Kyverno's http.Get/Post)
    # and ``jwt`` beside the Kubernetes libraries.
    "EnvoyValidatingPolicy": EnvironmentSpec(
        "EnvoyValidatingPolicy", {"object": _DYN}, _K8S_LIBS + ("authz.envoy", "authz.jwt"), typed=()),
    "HTTPValidatingPolicy": EnvironmentSpec(
        "HTTPValidatingPolicy", {"object": _DYN}, _K8S_LIBS + ("authz.http", "authz.jwt"), typed=()),
}
for _kind in ("ValidatingPolicy", "MutatingPolicy", "GeneratingPolicy", "DeletingPolicy",
              "ImageValidatingPolicy"):
    _spec = KINDS[_kind]
    KINDS["Namespaced" + _kind] = replace(
        _spec, name="Namespaced" + _kind,
        libraries=tuple(lib + ".namespaced" if lib in ("kyverno.resource", "kyverno.generator") else lib
                        for lib in _spec.libraries))


def _check_typed_fields(tree: Node, expression: str, typed: Iterable[str]) -> None:
    typed = set(typed)
    for node in tree.walk():
        if node.kind != "select":
            continue
        chain: list[str] = []
        cursor = node
        while cursor.kind == "select":
            chain.append(cursor.value)
            cursor = cursor.target
        if cursor.kind != "ident" or cursor.value not in typed:
            continue
        fields: object = TYPED_FIELDS[cursor.value]
        for name in reversed(chain):
            if fields is None:
                break
            if name not in fields:  # type: ignore[operator]
                raise CELCompileError(expression, f"undefined field '{name}'")
            fields = fields[name]  # type: ignore[index]


@dataclass
class Environment:
    """One kind's environment over a library registry."""

    spec: EnvironmentSpec
    registry: LibraryRegistry
    _envs: dict = field(default_factory=dict, repr=False)
    _cache: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _optional_functions: frozenset | None = field(default=None, repr=False)

    @property
    def optional_functions(self) -> frozenset[tuple[str, bool]]:
        """``(name, receiver style)`` of the loaded functions that return an optional (their calls are
        rewritten to ``f(...)[?0]``, :mod:`verno.core.cel.optional_calls`)."""
        if self._optional_functions is None:
            self._optional_functions = self.registry.optional_functions(
                name for name in self.spec.libraries if name in self.registry)
        return self._optional_functions

    def runtime_env(self, declared: tuple[tuple[str, str], ...] = ()):
        """The runtime environment with ``declared`` extra variables (``variables.<name>`` and their type
        names as the runtime reports them)."""
        key = tuple((name, t.name()) for name, t in declared)
        env = self._envs.get(key)
        if env is not None:
            return env
        from cel_expr_python import cel

        extensions = list(BASE_EXTENSIONS)
        if self.spec.two_variable_comprehensions:
            extensions.append("two-var-comprehensions")
        config = cel.NewEnvConfigFromYaml(
            f"name: {self.spec.name.lower()}\nextensions:\n" + "".join(f"- name: {e}\n" for e in extensions))
        variables = {name: cel_type(sig) for name, sig in self.spec.variables.items()}
        for name, runtime_type in declared:
            variables[name] = runtime_type
        libraries = [name for name in self.spec.libraries if name in self.registry]
        env = cel.NewEnv(config=config, variables=variables,
                         extensions=[self.registry.extension(libraries)] if libraries else [])
        with self._lock:
            self._envs.setdefault(key, env)
        return self._envs[key]

    def compile(self, expression: str, *, expect: tuple[str, ...] = (), variables=None):
        """Compile ``expression`` (cached). ``expect`` lists acceptable output types (``bool``, ``string``,
        ``null``); ``variables`` is a :class:`~verno.core.cel.program.VariableSet` whose earlier entries
        the expression may reference."""
        from verno.core.cel.program import compile_program

        key = (expression, expect, id(variables) if variables is not None else None)
        program = self._cache.get(key)
        if program is None:
            program = compile_program(self, expression, expect, variables)
            with self._lock:
                if len(self._cache) > 50_000:
                    self._cache.clear()
                self._cache[key] = program
        return program

    def parse(self, expression: str) -> Node:
        if not isinstance(expression, str):
            raise CELCompileError(str(expression), "expression must be a string")
        try:
            tree = parse(expression)
        except SyntaxError_ as exc:
            raise CELCompileError(expression, f"syntax error: {exc}") from None
        _check_typed_fields(tree, expression, [t for t in self.spec.typed if t in self.spec.variables])
        return tree


def environment_for(kind: str, registry: LibraryRegistry | None = None) -> Environment:
    """The environment of a policy kind (``ValidatingPolicy``, ``NamespacedMutatingPolicy`` ...)."""
    from verno.core.cel.libs import default_registry

    try:
        spec = KINDS[kind]
    except KeyError:
        raise CELCompileError("", f"no CEL environment for kind {kind!r}") from None
    return Environment(spec, registry if registry is not None else default_registry())
