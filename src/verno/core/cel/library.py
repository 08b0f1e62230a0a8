"""CEL function libraries: what a library declares, and the registry plugins add libraries to.

A :class:`Library` is a named set of :class:`Function` declarations; each function has one or more
:class:`Overload` s with CEL parameter and result types (written as CEL type names: ``string``,
``list(string)``, ``map(string, dyn)``, ``dyn`` ...) and a Python implementation. ``member=True`` makes a
receiver-style overload (``x.f(y)`` calls ``impl(x, y)``). Qualified names (``math.round``,
``resource.Get``) are ordinary global functions.

The runtime has no Python form for a CEL optional. A function declared with result ``optional(T)``
returns a list of zero or one element (``[]`` for ``optional.none()``, ``[v]`` for ``optional.of(v)``); it
is declared to the runtime as returning ``list(T)`` and every call of it is rewritten in the expression's
source with an optional index after it, ``f(x)[?0]`` (:mod:`verno.core.cel.optional_calls`), which is the
optional Kubernetes' function returns.

The C++ runtime dispatches on argument *kinds* only, so two overloads of one function whose parameters
differ only in opaque types (``isGreaterThan`` for quantities and for semvers) cannot be told apart by it.
Such values are therefore declared ``dyn`` and carried as tagged maps (:mod:`verno.core.cel.opaque`);
their implementation dispatches on the tag, and a wrong type is a runtime ``no such overload`` error where
Kubernetes reports it at compile time.

An implementation signals a CEL error by raising :class:`FunctionError` (its message is the error);
any other exception is reported as the function's failure naming the function and the library.
"""
from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from verno.core.errors import PluginError

__all__ = ["Function", "FunctionError", "Library", "LibraryRegistry", "Overload", "cel_type",
           "optional_element"]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class FunctionError(Exception):
    """Raised by a function implementation: the evaluation fails with this message."""


@dataclass(frozen=True)
class Overload:
    id: str
    params: tuple[str, ...]
    result: str
    impl: Callable[..., object]
    member: bool = False


@dataclass(frozen=True)
class Function:
    name: str
    overloads: tuple[Overload, ...]


@dataclass
class Library:
    """A named group of functions. ``plugin`` names who registered it (for error messages); left empty,
    the engine fills in the name of the plugin whose hook registered it (built-in libraries say
    ``verno``)."""

    name: str
    functions: list[Function] = field(default_factory=list)
    plugin: str = ""

    def add(self, name: str, *overloads: Overload) -> Library:
        self.functions.append(Function(name, tuple(overloads)))
        return self

    def fn(self, name: str, params: Iterable[str], result: str, impl: Callable[..., object], *,
           member: bool = False, overload_id: str | None = None) -> Library:
        """Add one overload of ``name`` (appended to the function if it already has overloads here)."""
        params = tuple(params)
        oid = overload_id or f"{self.name}.{name}({'.' if member else ''}{','.join(params)})"
        overload = Overload(oid, params, result, impl, member)
        for i, existing in enumerate(self.functions):
            if existing.name == name:
                self.functions[i] = Function(name, existing.overloads + (overload,))
                return self
        self.functions.append(Function(name, (overload,)))
        return self


def optional_element(result: str) -> str | None:
    """``T`` for a result type ``optional(T)``, else None."""
    sig = result.strip()
    return sig[len("optional("):-1] if sig.startswith("optional(") and sig.endswith(")") else None


def _split_args(inner: str) -> list[str]:
    depth, start, parts = 0, 0, []
    for i, ch in enumerate(inner):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(inner[start:i].strip())
            start = i + 1
    parts.append(inner[start:].strip())
    return parts


def cel_type(signature: str):
    """The runtime's type object for a CEL type name such as ``map(string, list(int))``."""
    from cel_expr_python import cel

    sig = signature.strip()
    simple = {"dyn": cel.Type.DYN, "bool": cel.Type.BOOL, "int": cel.Type.INT, "uint": cel.Type.UINT,
              "double": cel.Type.DOUBLE, "string": cel.Type.STRING, "bytes": cel.Type.BYTES,
              "timestamp": cel.Type.TIMESTAMP, "duration": cel.Type.DURATION, "null": cel.Type.NULL}
    if sig in simple:
        return simple[sig]
    if sig.startswith("list(") and sig.endswith(")"):
        return cel.Type.List(cel_type(sig[5:-1]))
    if sig.startswith("map(") and sig.endswith(")"):
        key, value = _split_args(sig[4:-1])
        return cel.Type.Map(cel_type(key), cel_type(value))
    raise ValueError(f"unknown CEL type {signature!r}")


def _check_result(value: object, name: str) -> object:
    """Python values the runtime cannot hold become errors here rather than a crash inside it."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise FunctionError(f"{name}: integer overflow")
        return value
    if isinstance(value, bytes):  # the runtime reads bytes as a C string (cut at the first NUL), not a bytearray
        return bytearray(value)
    if isinstance(value, str):
        if "\x00" in value:  # the runtime would cut the string there: an error, never a shorter string
            raise FunctionError(f"{name}: the result holds a NUL character, which verno's CEL runtime cannot "
                                "return from a function")
        return value
    if isinstance(value, (float, bytearray, datetime.datetime, datetime.timedelta)):
        return value
    if isinstance(value, (list, tuple)):
        return [_check_result(v, name) for v in value]
    if isinstance(value, dict):
        return {_check_result(k, name): _check_result(v, name) for k, v in value.items()}
    raise FunctionError(f"{name}: returned a {type(value).__name__}, which is not a CEL value")


def _optional_result(value: object, function: str) -> object:
    if not isinstance(value, (list, tuple)) or len(value) > 1:
        raise FunctionError(f"{function}: an optional result must be returned as a list of at most one "
                            f"element, not {type(value).__name__}")
    return value


def _guarded(function: str, library: Library, impl: Callable[..., object],
             optional: bool = False) -> Callable[..., object]:
    def call(*args):
        try:
            result = impl(*args)
            return _check_result(_optional_result(result, function) if optional else result, function)
        except FunctionError:
            raise
        except RecursionError:
            raise FunctionError(f"{function}: value nested too deeply") from None
        except Exception as exc:  # noqa: BLE001 - any failure of a function is that call's CEL error
            detail = " ".join(str(exc).split())
            owner = f"library {library.name}"
            if library.plugin not in ("", "verno"):
                owner += f" (plugin {library.plugin})"
            raise FunctionError(f"{function} ({owner}) raised {type(exc).__name__}"
                                + (f": {detail}" if detail else "")) from None
    return call


class LibraryRegistry:
    """Libraries by name. Registering a name twice, or a function overload id twice, is a PluginError
    naming both registrants."""

    def __init__(self) -> None:
        self._libraries: dict[str, Library] = {}
        self._overloads: dict[str, str] = {}

    def register(self, library: Library) -> None:
        if library.name in self._libraries:
            other = self._libraries[library.name]
            raise PluginError(f"CEL library {library.name!r} registered by both {other.plugin} "
                              f"and {library.plugin}")
        for function in library.functions:
            for overload in function.overloads:
                owner = self._overloads.get(overload.id)
                if owner is not None:
                    raise PluginError(f"CEL overload {overload.id!r} of library {library.name!r} "
                                      f"({library.plugin}) is already declared by library {owner!r}")
        for function in library.functions:
            for overload in function.overloads:
                self._overloads[overload.id] = library.name
        self._libraries[library.name] = library

    def registrar(self, plugin: str) -> Callable[[Library], None]:
        """The ``register`` callable handed to one plugin's ``verno_register_cel_libraries`` hook: a library
        that names no plugin is recorded as that plugin's."""

        def register(library: Library) -> None:
            if not isinstance(library, Library):
                raise PluginError(f"plugin {plugin} registered a {type(library).__name__} as a CEL library; "
                                  "register verno.core.cel.Library objects")
            if not library.plugin:
                library.plugin = plugin
            self.register(library)

        return register

    def __contains__(self, name: str) -> bool:
        return name in self._libraries

    def get(self, name: str) -> Library:
        try:
            return self._libraries[name]
        except KeyError:
            raise PluginError(f"no CEL library named {name!r} is registered") from None

    def names(self) -> list[str]:
        return list(self._libraries)

    def optional_functions(self, names: Iterable[str]) -> frozenset[tuple[str, bool]]:
        """``(function name, receiver style)`` of the overloads with an ``optional(T)`` result in the named
        libraries: their calls are rewritten to ``f(...)[?0]``."""
        found = set()
        for name in names:
            for function in self.get(name).functions:
                for o in function.overloads:
                    if optional_element(o.result) is not None:
                        found.add((function.name, o.member))
        return frozenset(found)

    def by_plugin(self, plugin: str) -> list[str]:
        return [name for name, library in self._libraries.items() if library.plugin == plugin]

    def extension(self, names: Iterable[str]):
        """One runtime extension declaring every function of the named libraries (overloads of one
        function name from several libraries are merged)."""
        from cel_expr_python import cel

        merged: dict[str, list] = {}
        for name in names:
            library = self.get(name)
            for function in library.functions:
                decls = merged.setdefault(function.name, [])
                for o in function.overloads:
                    element = optional_element(o.result)
                    result = cel_type(o.result if element is None else f"list({element})")
                    decls.append(cel.Overload(o.id, result, [cel_type(p) for p in o.params],
                                              is_member=o.member,
                                              impl=_guarded(function.name, library, o.impl,
                                                            optional=element is not None)))
        return cel.CelExtension("verno", [cel.FunctionDecl(fname, decls) for fname, decls in merged.items()])
