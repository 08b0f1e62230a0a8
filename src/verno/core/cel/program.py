"""Compiled expressions, policy variables and evaluation.

* :class:`Program`: one expression compiled once (type-checked, output type checked, cost profiled).
* :class:`VariableSet`: a policy's ``variables`` in order; each may reference only earlier ones and is
  declared to later expressions as ``variables.<name>`` with the type inferred from its expression.
* :class:`Activation`: the inputs of one evaluation (``object``, ``request`` ...). Variables are lazy and
  memoized per activation: a variable is evaluated when an expression that references it is evaluated,
  once; a variable that fails is left unbound, so it only fails the expressions that actually reach it
  (``false && variables.broken`` is ``false``), with the variable's own error.

A variable whose value is an optional (``object.?spec.replicas``) cannot be handed from one runtime
evaluation to the next (the runtime has no Python form for it); such a variable is inlined into the
expressions that reference it instead (same result, evaluated where used, not memoized).
"""
from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from verno.core.cel import cost as costs
from verno.core.cel import fusion
from verno.core.cel.errors import CELCompileError, CELCostError, CELError, CELEvaluationError
from verno.core.cel.objecttypes import rewrite_object_types
from verno.core.cel.optional_calls import rewrite_optional_calls, source_positions
from verno.core.cel.orvalue import rewrite_or_value
from verno.core.cel.syntax import Node, parse

__all__ = ["Activation", "Program", "SharedInputs", "VariableSet", "compile_program"]

COST_MESSAGE = "operation cancelled: actual cost limit exceeded"
_CODE = re.compile(r"^[A-Z_]+: ")
_TRAILER = re.compile(r" \[[A-Z_]+\]$")
_NO_KEY = re.compile(r'Key not found in map : "?(.*?)"?$')
_NO_VALUE = re.compile(r'No value with name "variables\.([^"]+)" found in Activation')
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STATIC_BOUND = costs.Sizes(3 * 1024 * 1024, 3 * 1024 * 1024)  # the API server's largest request


def runtime_message(raw: str) -> str:
    """cel-go's wording for the C++ runtime's messages (``no such key: a``, ``no such overload`` ...)."""
    text = _TRAILER.sub("", _CODE.sub("", raw.strip()))
    if "ERROR: <input>:" in text:  # checker errors: one line per error, without the source excerpt
        lines = [line.strip() for line in text.splitlines() if line.strip().startswith("ERROR: <input>:")]
        text = "; ".join(line[len("ERROR: <input>:"):].replace(" (in container '')", "") for line in lines)
    m = _NO_KEY.search(text)
    if m:
        return f"no such key: {m.group(1)}"
    if text.startswith("No matching overloads found"):
        return "no such overload"
    if text in ("divide by zero", "modulus by zero"):
        return "division by zero" if text.startswith("divide") else "modulus by zero"
    return text


def _referenced_variables(tree: Node) -> tuple[list[str], bool]:
    """Names read as ``variables.<name>`` / ``variables['name']``, and whether ``variables`` is used whole."""
    names: list[str] = []
    whole = False
    parents: dict[int, Node] = {}
    for node in tree.walk():
        for child in ([node.target] if node.target is not None else []) + node.args:
            parents[id(child)] = node
    for node in tree.walk():
        if node.kind != "ident" or node.value != "variables":
            continue
        parent = parents.get(id(node))
        if parent is not None and parent.kind == "select" and parent.target is node:
            if parent.value not in names:
                names.append(parent.value)
        else:  # variables['x'], variables as a whole: every variable may be read
            whole = True
    return names, whole


@dataclass
class Program:
    """A compiled expression. ``source`` is what the user wrote, ``text`` what the runtime compiled
    (after inlining optional variables and the ``orValue`` rewrite)."""

    source: str
    text: str
    compiled: object
    runtime_env: object
    output_type: str
    variables: tuple[str, ...]
    tree: Node
    needs_size_check: bool
    unbounded: str = ""
    #: the cost budget of one evaluation (``VERNO_CEL_COST_LIMIT``, read when the expression is compiled)
    limit: int = costs.DEFAULT_COST_LIMIT
    #: estimated costs by input sizes (many inputs have the same sizes)
    estimates: dict = field(default_factory=dict, repr=False, compare=False)
    #: whether :meth:`SharedInputs.prefetch` may evaluate it with others in one runtime call (None: not
    #: decided yet; false once it failed on some input)
    fusable: bool | None = field(default=None, repr=False, compare=False)
    #: what the expression can read of its inputs (:func:`verno.core.cel.projection.reads`, made when
    #: first needed)
    reads: dict | None = field(default=None, repr=False, compare=False)

    def estimate(self, sizes: costs.Sizes) -> int:
        """The cost bound of one evaluation on inputs within ``sizes`` (raises ``costs.Unbounded``)."""
        cost = self.estimates.get(sizes)
        if cost is None:
            cost = costs.estimate(self.tree, sizes)
            if len(self.estimates) >= 256:
                self.estimates.clear()
            self.estimates[sizes] = cost
        return cost

    def evaluate(self, activation: Activation) -> object:
        return activation.evaluate(self)


@dataclass
class VariableSet:
    """A policy's variables, compiled in order."""

    names: tuple[str, ...]
    programs: dict[str, Program]
    declared: tuple[tuple[str, object], ...]  # (``variables.<name>``, runtime type), non-optional ones
    inlined: dict[str, str] = field(default_factory=dict)  # optional-valued variable => its source

    @classmethod
    def compile(cls, env, variables: Iterable[tuple[str, str]], *, inline: bool = False) -> VariableSet:
        """``inline``: every variable is written into the expressions that use it (up to
        :data:`MAX_INLINED` characters each), so those expressions read only the inputs and one runtime
        activation can serve every policy of a request; without it, only optional-valued variables are."""
        result = cls((), {}, ())
        for name, expression in variables:
            if name in result.programs:
                raise CELCompileError(expression, f"variable {name!r} is defined twice")
            program = compile_program(env, expression, (), result)
            programs = {**result.programs, name: program}
            if program.output_type.startswith("optional_type") or (
                    inline and not result.declared and len(program.text) <= MAX_INLINED):
                result = cls(result.names + (name,), programs, result.declared,
                             {**result.inlined, name: program.text})
            else:
                declared = result.declared + ((f"variables.{name}", program.compiled.return_type()),)
                result = cls(result.names + (name,), programs, declared, result.inlined)
        return result


#: the longest variable text written into the expressions that use it (nested variables grow it)
MAX_INLINED = 4096


def _inline(expression: str, tree: Node, inlined: Mapping[str, str]) -> str:
    edits = []
    for node in tree.walk():
        if node.kind == "select" and node.value in inlined and node.target is not None \
                and node.target.kind == "ident" and node.target.value == "variables":
            edits.append((node.start, node.end, inlined[node.value]))
    out, pos = [], 0
    for start, end, text in sorted(edits):
        out.append(expression[pos:start])
        out.append(f"({text})")
        pos = end
    out.append(expression[pos:])
    return "".join(out)


def compile_program(env, expression: str, expect: tuple[str, ...], variables: VariableSet | None) -> Program:

    tree = env.parse(expression)
    text = expression
    if variables is not None and variables.inlined:
        text = _inline(text, tree, variables.inlined)
    if env.spec.object_types:
        text = rewrite_object_types(text, parse(text) if text != expression else tree,
                                    frozenset(env.spec.object_types))
    if env.spec.or_value_compat and "orValue" in text:
        text = rewrite_or_value(text, parse(text), set())
    before_optional_calls, inserted = text, []
    if env.optional_functions:
        text, inserted = rewrite_optional_calls(text, parse(text) if text != expression else tree,
                                                env.optional_functions)
    final_tree = parse(text) if text != expression else tree
    names, whole = _referenced_variables(final_tree)
    known = variables.names if variables is not None else ()
    used = tuple(n for n in known if whole or n in names)
    declared = variables.declared if variables is not None else ()
    runtime_env = env.runtime_env(tuple((name, t) for name, t in declared)) if declared else env.runtime_env()
    try:
        compiled = runtime_env.compile(text)
    except RuntimeError as exc:
        message = source_positions(runtime_message(str(exc)), text, before_optional_calls, inserted)
        raise CELCompileError(expression, message) from None
    output = compiled.return_type().name()
    output_name = output.lower() if "<" not in output else output
    if expect and output_name not in expect:
        raise CELCompileError(expression, f"output is expected to be of type {' or '.join(expect)}, "
                                          f"got {output_name}")
    needs_check, unbounded = False, ""
    limit = costs.cost_limit()
    try:
        needs_check = costs.estimate(final_tree, _STATIC_BOUND) > limit
    except costs.Unbounded as exc:
        unbounded = str(exc)
    return Program(expression, text, compiled, runtime_env, output_name, used, final_tree, needs_check,
                   unbounded, limit)


NUL_MESSAGE = ("a string holding a NUL character (\\u0000) cannot be handed to the CEL runtime (it would "
               "be cut there); remove the NUL from")


_MISSING = object()
#: what was evaluated on shared inputs after their first program: (that program, the others, their ids)
_AHEAD: dict[int, tuple[Program, list[Program], set[int]]] = {}
_AHEAD_LOCK = threading.Lock()
_AHEAD_LIMIT = 256
_AHEAD_PROGRAMS = 512
_ERROR = None  # the runtime's ERROR type (the runtime is imported when first used)


def _error_type() -> object:
    global _ERROR
    from cel_expr_python import cel

    _ERROR = cel.Type.ERROR
    return _ERROR


class SharedInputs:
    """The inputs of every evaluation of one request, shared by all the policies evaluating it: the values
    (read-only), their sizes (measured once, when an expression first needs them) and the runtime's
    activation of them (the runtime converts its inputs once per activation, which dominates a check)."""

    __slots__ = ("values", "_sizes", "_nul", "runtime", "_known", "results", "_kept", "_first", "projected")

    def __init__(self, values: Mapping[str, object], sizes: costs.Sizes | None = None, *,
                 known: Iterable[costs.Measured] = ()):
        """``known``: values inside ``values`` already measured (:func:`~verno.core.cel.cost.note_measured`)."""
        self.values = values
        self._sizes = sizes
        self._nul: bool | None = None
        self._known = known
        #: the runtime activation of :attr:`values` (made by the first evaluation)
        self.runtime: object = None
        #: results of programs evaluated ahead (:func:`verno.core.cel.fusion.prefetch`), by program id
        self.results: dict[int, object] | None = None
        self._kept: list[tuple[Program, ...]] = []  # the programs of those ids, alive as long as the results
        self._first: tuple[Program, list[Program], set[int]] | None = None
        #: the runtime activation and sizes of :attr:`values` cut down to what some programs read
        #: (:func:`verno.core.cel.fusion.prefetch`), by the identity of that cut
        self.projected: dict[int, tuple] = {}

    def runtime_activation(self, env: object) -> object:
        """The runtime's activation of :attr:`values` (made once; ``env``: any runtime environment, since
        the activation is read by name). The caller has checked the values for NUL characters."""
        activation = self.runtime
        if activation is None:
            activation = self.runtime = env.Activation(dict(self.values))  # type: ignore[attr-defined]
        return activation

    def start(self, program: Program) -> dict[int, object]:
        """The first evaluation on these inputs: evaluate ahead what followed ``program`` last time."""
        self.results = {}
        learned = _AHEAD.get(id(program))
        if learned is None or learned[0] is not program:
            with _AHEAD_LOCK:
                if len(_AHEAD) >= _AHEAD_LIMIT:
                    _AHEAD.clear()
                learned = _AHEAD[id(program)] = (program, [], set())
        self._first = learned
        if len(learned[1]) >= 2:
            fusion.prefetch(self, learned[1])
        return self.results

    def learn(self, program: Program) -> None:
        """``program`` was evaluated on these inputs without being evaluated ahead: next time, it will be."""
        learned = self._first
        if learned is not None and id(program) not in learned[2] and fusion.fusable(program) \
                and len(learned[1]) < _AHEAD_PROGRAMS:
            with _AHEAD_LOCK:
                if id(program) not in learned[2]:
                    learned[2].add(id(program))
                    learned[1].append(program)

    def keep(self, programs: tuple[Program, ...], values: list[object]) -> None:
        """Remember the results of ``programs`` on these inputs."""
        if self.results is None:
            self.results = {}
        self._kept.append(programs)
        for program, value in zip(programs, values):
            self.results[id(program)] = value

    def sizes(self) -> costs.Sizes:
        if self._sizes is None or self._nul is None:
            sizes, self._nul = costs.measure(*self.values.values(), known=self._known)
            self._sizes = self._sizes or sizes
        return self._sizes

    def has_nul(self) -> bool:
        if self._nul is None:
            self.sizes()
        return bool(self._nul)


class Activation:
    """The inputs of one evaluation and its memoized variables.

    ``inputs`` maps declared variable names (``object``, ``request`` ...) to plain JSON-like values (read,
    never changed); an undeclared name is ignored by the runtime. ``variables`` (optional) is the policy's
    VariableSet; without it, ``variables.<name>`` reads fail at runtime (Kyverno's match conditions).
    ``sizes`` may give bounds on the inputs' sizes (else they are measured when an expression needs them).
    ``cost_limit``: the budget of each evaluation (default: each program's, read when it was compiled).

    A string holding a NUL character cannot cross into the runtime intact (its conversion cuts strings
    there), so an evaluation that would hand one over is an evaluation error instead of a shorter string.
    """

    def __init__(self, inputs: Mapping[str, object] | SharedInputs, variables: VariableSet | None = None, *,
                 sizes: costs.Sizes | None = None, cost_limit: int | None = None):
        """``inputs`` may be a :class:`SharedInputs`: its values, sizes and runtime activation are then
        shared with every other activation of it."""
        if isinstance(inputs, SharedInputs):
            self._shared: SharedInputs | None = inputs
            self.inputs = inputs.values
        else:
            self._shared = None
            self.inputs = inputs
        self.variables = variables
        self.values: dict[str, object] = {}
        self.errors: dict[str, CELError] = {}
        self._sizes = sizes
        self._nul: bool | None = None
        self._limit = cost_limit
        self._activations: dict[tuple, object] = {}

    def sizes(self) -> costs.Sizes:
        sizes = self._sizes
        if sizes is None:
            shared = self._shared
            if shared is not None:
                sizes = shared._sizes if shared._nul is not None else None
                if sizes is None:
                    sizes = shared.sizes()
                if self.values:
                    sizes = costs.larger(sizes, costs.input_size(*self.values.values()))
            else:
                sizes, self._nul = costs.measure(*self.inputs.values(), *self.values.values())
            self._sizes = sizes
        return sizes

    def _inputs_have_nul(self) -> bool:
        if self._shared is not None:
            return self._shared.has_nul()
        if self._nul is None:
            sizes, self._nul = costs.measure(*self.inputs.values())
            if self._sizes is None and not self.values:
                self._sizes = sizes
        return self._nul

    def variable(self, name: str) -> object:
        """The value of ``variables.<name>`` (evaluated on first use); raises its error."""
        self._ensure(name)
        if name in self.errors:
            raise self.errors[name]
        return self.values[name]

    def _ensure(self, name: str) -> None:
        if self.variables is None or name in self.values or name in self.errors \
                or name in self.variables.inlined or name not in self.variables.programs:
            return
        try:
            self.values[name] = self.evaluate(self.variables.programs[name])
            if self._sizes is not None:  # a new value may be larger than what was measured
                self._sizes = costs.larger(self._sizes, costs.input_size(self.values[name]))
        except CELError as exc:
            self.errors[name] = exc

    def evaluate(self, program: Program) -> object:
        shared = self._shared
        if shared is not None and self._limit is None:
            results = shared.results
            if results is None:
                results = shared.start(program)
            found = results.get(id(program), _MISSING)
            if found is not _MISSING:  # evaluated ahead, with others (it reads only the shared inputs)
                return found
            shared.learn(program)
        if program.variables:
            for name in program.variables:
                self._ensure(name)
        if program.unbounded:
            raise CELCostError(program.source, f"{COST_MESSAGE}: {program.unbounded}")
        if program.needs_size_check:
            limit = self._limit if self._limit is not None else program.limit
            try:
                estimate = program.estimate(self.sizes())
            except costs.Unbounded as exc:  # pragma: no cover - caught at compile time
                raise CELCostError(program.source, f"{COST_MESSAGE}: {exc}") from None
            if estimate > limit:
                raise CELCostError(program.source, f"{COST_MESSAGE} (estimated cost {estimate}, "
                                                   f"limit {limit})")
        bound = tuple(n for n in program.variables if n in self.values) if program.variables else ()
        if shared is not None and not bound:
            # the inputs alone: one runtime activation serves programs of any environment (data by name)
            activation = shared.runtime
        else:
            key = (id(program.runtime_env), bound)
            activation = self._activations.get(key)
        if activation is None:
            activation = self._runtime_activation(program, bound)
            if shared is not None and not bound:
                shared.runtime = activation
            else:
                self._activations[(id(program.runtime_env), bound)] = activation
        try:
            result = program.compiled.eval(activation)
        except RuntimeError as exc:
            raise self._error(program, str(exc)) from None
        try:
            if result.type() == (_ERROR or _error_type()):
                raise self._error(program, str(result.value()))
            value = result.plain_value()
        except TypeError:  # the runtime has no Python form for an optional value (reported as ERROR)
            raise CELEvaluationError(program.source, f"the result {result} has no JSON form (an optional "
                                                     "value: end the expression with .orValue(...))") \
                from None
        return bytes(value) if isinstance(value, bytearray) else value

    def _runtime_activation(self, program: Program, bound: tuple[str, ...]) -> object:
        if self._inputs_have_nul():
            raise CELEvaluationError(program.source, f"{NUL_MESSAGE} {_nul_path(self.inputs)}")
        data = dict(self.inputs)
        for name in bound:
            value = self.values[name]
            if costs.measure(value)[1]:
                raise CELEvaluationError(program.source, f"{NUL_MESSAGE} the value of variables.{name}")
            data[f"variables.{name}"] = value
        try:
            return program.runtime_env.Activation(data)
        except (RuntimeError, TypeError, ValueError) as exc:
            raise CELEvaluationError(program.source, f"input cannot be converted: {exc}") from None

    def _error(self, program: Program, raw: str) -> CELError:
        m = _NO_VALUE.search(raw)
        if m:
            name = m.group(1)
            if name in self.errors:
                return CELEvaluationError(program.source, self.errors[name].detail)
            return CELEvaluationError(program.source, f"no such attribute: variables.{name}")
        if "Iteration budget exceeded" in raw:
            return CELCostError(program.source, COST_MESSAGE)
        return CELEvaluationError(program.source, runtime_message(raw))


def _nul_path(values: Mapping[str, object]) -> str:
    """Where the first string holding a NUL is (``object.metadata.annotations['a']``), for the message."""
    stack: list[tuple[str, object]] = [(name, value) for name, value in reversed(list(values.items()))]
    while stack:
        path, value = stack.pop()
        if isinstance(value, (str, bytes, bytearray)):
            if ("\0" if isinstance(value, str) else b"\0") in value:
                return path
        elif isinstance(value, Mapping):
            for key, item in reversed(list(value.items())):
                if isinstance(key, str) and "\0" in key:
                    return f"a key of {path}"
                stack.append((f"{path}[{key!r}]" if not _PLAIN_KEY.match(str(key)) else f"{path}.{key}", item))
        elif isinstance(value, (list, tuple)):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
    return "the inputs"
