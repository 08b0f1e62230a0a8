"""The JMESPath service: compiled-expression cache, Kyverno's missing-key semantics, custom functions.

``JMESPath(registry)`` builds one :class:`jmespath.functions.Functions` subclass holding the 26
standard functions plus every function plugins registered through
``verno_register_jmespath_functions`` (a registered name replaces a standard one, as Kyverno's ``sum``
does). Argument checking is jmespath's own signature machinery; every function's result is held to the
size limit of :mod:`verno.core.limits`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import jmespath
from jmespath import exceptions as jp_exceptions
from jmespath import functions as jp_functions
from jmespath.parser import ParsedResult
from jmespath.visitor import Options
from jmespath.visitor import _Expression as _BaseExpression

from verno.core import limits
from verno.core.errors import JMESPathError, NotFoundError, PluginFailure, VernoError
from verno.core.jmespath.interpreter import KyvernoInterpreter
from verno.core.jmespath.paths import Path, compile_path
from verno.core.registry import Registry

__all__ = ["Compiled", "FunctionInfo", "JMESPath"]

#: how many distinct expressions one JMESPath instance keeps compiled
CACHE_SIZE = 4096

Compiled = ParsedResult


@dataclass(frozen=True)
class FunctionInfo:
    """One function as ``verno jp function`` lists it."""

    name: str
    arguments: tuple[str, ...]
    returns: str
    description: str
    plugin: str

    @property
    def signature(self) -> str:
        return f"{self.name}({', '.join(self.arguments)}) {self.returns}"


def _jp_signature(arg_types: Iterable[Any]) -> tuple[dict[str, Any], ...]:
    """``register``'s ``arg_types`` -> jmespath's ``@signature`` entries."""
    out = []
    for spec in arg_types:
        variadic = False
        if isinstance(spec, dict):
            variadic = bool(spec.get("variadic"))
            spec = spec.get("types", [])
        if isinstance(spec, str):
            spec = [spec]
        types = [] if "any" in spec else list(spec)
        entry: dict[str, Any] = {"types": types}
        if variadic:
            entry["variadic"] = True
        out.append(entry)
    return tuple(out)


def _describe_types(entry: dict[str, Any]) -> str:
    types = entry["types"] or ["any"]
    text = "|".join(types)
    return f"{text}..." if entry.get("variadic") else text


#: the plugin that registers Kyverno's own functions; their argument errors read as Kyverno's do
BUILTIN_FUNCTIONS_PLUGIN = "jmespath-functions"

#: Python errors a function raises for arguments it cannot use (a function error, not a plugin bug)
_ARGUMENT_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, ArithmeticError)


def _wrap(name: str, fn: Callable[..., Any], plugin: str, *, standard: bool = False) -> Callable[..., Any]:
    """One function-table entry: ``fn`` called (with the Functions instance for a standard function), its
    result held to the size limit, and whatever it raises made a JMESPath error of that function. Argument
    errors of the built-in and standard functions read as Kyverno's; anything else names the plugin."""
    ours = standard or plugin == BUILTIN_FUNCTIONS_PLUGIN

    def call(functions: Any, *args: Any) -> Any:
        try:
            result = fn(functions, *args) if standard else fn(*args)
        except (VernoError, jp_exceptions.JMESPathError):
            raise
        except Exception as exc:
            if ours and isinstance(exc, _ARGUMENT_ERRORS):
                raise JMESPathError(f"JMESPath function '{name}': {exc}") from exc
            raise JMESPathError(str(PluginFailure(plugin, f"JMESPath function '{name}'", exc))) from exc
        return limits.check_result(name, result)

    call.__name__ = f"_func_{name}"
    return call


def _go_contains(_functions: Any, subject: Any, search: Any) -> bool:
    """Go's ``contains``: a list holds an equal element; a string holds a string (and never a non-string)."""
    if isinstance(subject, str):
        return isinstance(search, str) and search in subject
    return search in subject


class _Expression(_BaseExpression):
    """An ``&expr`` argument: evaluated by functions such as ``sort_by``; a missing key is null.

    (Named like jmespath's own class: its type checks go by class name.)
    """

    def visit(self, node: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.interpreter.visit(node, *args, **kwargs)
        except NotFoundError:
            return None


class _Interpreter(KyvernoInterpreter):
    def visit_expref(self, node: Any, value: Any) -> Any:
        return _Expression(node["children"][0], self)


def build_functions(registry: Registry | None) -> jp_functions.Functions:
    """A ``Functions`` instance with the standard table plus everything in ``registry``."""
    standard = dict(jp_functions.Functions.FUNCTION_TABLE)
    standard["contains"] = {**standard["contains"], "function": _go_contains}
    table = {name: {**spec, "function": _wrap(name, spec["function"], "jmespath", standard=True)}
             for name, spec in standard.items()}
    infos: dict[str, FunctionInfo] = {}
    for name, spec in table.items():
        sig = spec["signature"]
        infos[name] = FunctionInfo(name, tuple(_describe_types(e) for e in sig), "any",
                                   "standard JMESPath function", "jmespath")
    for entry in registry or ():
        fn = entry.value
        args = entry.options.get("args", ())
        arg_types = entry.options.get("arg_types", args[0] if args else [])
        sig = _jp_signature(arg_types)
        table[entry.name] = {"function": _wrap(entry.name, fn, entry.plugin), "signature": sig}
        infos[entry.name] = FunctionInfo(
            entry.name, tuple(_describe_types(e) for e in sig),
            str(entry.options.get("returns", "any")), str(entry.options.get("description", "")),
            entry.plugin)

    class VernoFunctions(jp_functions.Functions):
        INFOS = infos

    # set after class creation: the metaclass rebuilds FUNCTION_TABLE from ``_func_`` methods
    VernoFunctions.FUNCTION_TABLE = table
    return VernoFunctions()


def _one_line(exc: Exception) -> str:
    if isinstance(exc, (jp_exceptions.ArityError, jp_exceptions.JMESPathTypeError, jp_exceptions.UnknownFunctionError)):
        return " ".join(str(exc).split())
    if isinstance(exc, jp_exceptions.LexerError):
        return f"{exc.message} at column {exc.lexer_position}"
    if isinstance(exc, jp_exceptions.IncompleteExpressionError):
        return "incomplete expression"
    if isinstance(exc, jp_exceptions.ParseError):
        return f"{exc.msg}: unexpected token {exc.token_value!r} ({exc.token_type}) at column {exc.lex_position}"
    return " ".join(str(exc).split())


class JMESPath:
    """Compile (once, cached) and evaluate JMESPath expressions with Kyverno's semantics."""

    def __init__(self, functions_registry: Registry | None = None, *, cache_size: int = CACHE_SIZE):
        self.functions = build_functions(functions_registry)
        self._options = Options(custom_functions=self.functions)
        self._interpreter = _Interpreter(self._options)
        self._cache: dict[str, ParsedResult] = {}
        self._cache_size = cache_size
        #: expression -> its plain function, for the paths ``paths.compile_path`` handles
        self._paths: dict[str, Path] = {}

    # -- compiling -------------------------------------------------------------------------------------
    def compile(self, expression: str) -> Compiled:
        """Parse ``expression`` (cached). Raises :class:`JMESPathError` naming the expression."""
        compiled = self._cache.get(expression)
        if compiled is not None:
            return compiled
        if not isinstance(expression, str) or not expression.strip():
            raise JMESPathError(f"invalid JMESPath expression {expression!r}: empty expression")
        try:
            compiled = jmespath.compile(expression)
        except jp_exceptions.JMESPathError as exc:
            raise JMESPathError(f"invalid JMESPath expression {expression!r}: {_one_line(exc)}") from None
        if len(self._cache) >= self._cache_size:
            self._paths.pop(self._cache.pop(next(iter(self._cache))).expression, None)
        self._cache[expression] = compiled
        path = compile_path(compiled.parsed)
        if path is not None:
            self._paths[expression] = path
        return compiled

    # -- evaluating ------------------------------------------------------------------------------------
    def evaluate(self, compiled: Compiled, data: Any) -> Any:
        """Evaluate a compiled expression. A missing key raises :class:`NotFoundError`."""
        try:
            return self._interpreter.visit(compiled.parsed, data)
        except (NotFoundError, JMESPathError):
            raise
        except jp_exceptions.JMESPathError as exc:
            raise JMESPathError(_one_line(exc)) from None
        except RecursionError:
            raise JMESPathError(f"expression {compiled.expression!r} is nested too deeply") from None

    def search(self, expression: str, data: Any) -> Any:
        """Evaluate ``expression`` against ``data``."""
        path = self._paths.get(expression)
        if path is not None:
            return path(data)
        return self.evaluate(self.compile(expression), data)

    # -- introspection ---------------------------------------------------------------------------------
    def function_infos(self) -> list[FunctionInfo]:
        """Every callable function (standard and registered), sorted by name."""
        infos: dict[str, FunctionInfo] = type(self.functions).INFOS  # type: ignore[attr-defined]
        return [infos[name] for name in sorted(infos)]

    def has_function(self, name: str) -> bool:
        return name in self.functions.FUNCTION_TABLE
