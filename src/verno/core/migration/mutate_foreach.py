"""``mutate.foreach`` entries with ``patchesJson6902`` written as JSONPatch expressions.

Kyverno (K: ``forEachMutator``) evaluates each entry's ``list`` over the object as the entries before it
patched it (a MutatingPolicy's mutations see ``object`` the same way: one mutation per entry); each non-null
element whose ``preconditions`` hold gets the entry's operations, with ``{{elementIndex}}`` substituted in
their paths, applied with evanphx/json-patch's ``EnsurePathExistsOnAdd`` (an ``add`` creates missing
parent maps). A JSONPatch has no such option, so the translation adds each missing parent first, as an
``add`` of ``{}`` decided on the object the entry starts from.

That is exact when each element's operations stay inside its own slot of the list the entry iterates
(paths ``<list path>/{{elementIndex}}/...`` with the list a plain field path of ``request.object``), so
that no element's operations change what another element's read: other forms (variables elsewhere,
values with variables, ``move``/``copy``/``remove``/``test``, an operation below a parent an earlier
operation of the same element created, nested foreach, foreach ``context``, preconditions that can fail
on a missing key, ``patchStrategicMerge`` per element) raise :class:`Untranslatable`.
"""
from __future__ import annotations

import json
import re
from typing import Any

import yaml

from verno.core.migration.errors import Untranslatable
from verno.core.migration.expressions import _segments, condition_block, path_expression, value_expression
from verno.core.migration.jmespath_cel import Scope

__all__ = ["mutate_foreach"]

_INDEX = "{{elementIndex}}"
#: an evaluation error at run time (a text that is no number): Kyverno fails to evaluate the list
_LIST_ERROR = '[JSONPatch{op: "test", path: "/" + string(int("the foreach list has an unknown key")), value: 0}]'
_NAMES = {"element": "element", "elementIndex": "elementIndex", "element0": "element", "elementIndex0": "elementIndex"}


def _pointer(tokens: list[str]) -> str:
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens)


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


class _Entry:
    def __init__(self, entry: Any, scope: Scope):
        if entry.foreach:
            raise Untranslatable("a nested mutate.foreach (no CEL translation yet)")
        if entry.context:
            raise Untranslatable("context entries in a mutate.foreach")
        if entry.patch_strategic_merge is not None:
            raise Untranslatable("patchStrategicMerge per foreach element (each element merges into the result of the "
                                 "previous one; no exact ApplyConfiguration form)")
        if not entry.patches_json6902:
            raise Untranslatable("a mutate.foreach entry without patchesJson6902")
        segments = None
        if "{{" not in entry.list_:
            try:
                segments = _segments(entry.list_.strip())
            except Untranslatable:
                segments = None
        if segments is None or segments[:2] != ["request", "object"] or len(segments) < 3 or \
                not all(isinstance(s, str) for s in segments):
            raise Untranslatable(f"the foreach list {entry.list_!r} with patchesJson6902 (only a plain field path "
                                 "of request.object, whose elements the operations' paths address)")
        self.base = [str(s) for s in segments[2:]]
        self.scope = Scope({**scope.names, **_NAMES}, scope.inline, scope.counter, [])
        self.pre = condition_block(entry.preconditions, self.scope) if entry.preconditions is not None else "true"
        if self.scope.errors:
            raise Untranslatable("foreach preconditions that read a key that may be missing (an error there ends "
                                 "the whole rule in Kyverno)")
        self.ops = self._operations(entry.patches_json6902)

    def _operations(self, text: str) -> list[tuple[str, list[str], Any]]:
        stripped = text.strip()
        try:
            ops = json.loads(stripped) if stripped.startswith("[") else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise Untranslatable(f"patchesJson6902 that does not parse ({exc})") from None
        if not isinstance(ops, list) or not ops or not all(isinstance(op, dict) for op in ops):
            raise Untranslatable("patchesJson6902 that is not a list of operations")
        slot = _pointer(self.base) + "/" + _INDEX + "/"
        out: list[tuple[str, list[str], Any]] = []
        touched: set[tuple[str, ...]] = set()
        for op in ops:
            name, path = op.get("op"), op.get("path")
            if name not in ("add", "replace") or set(op) - {"op", "path", "value"} or "value" not in op:
                raise Untranslatable(f"the foreach JSON patch operation {name!r} (only add and replace with a value)")
            if "{{" in json.dumps(op.get("value")):
                raise Untranslatable("a variable in a foreach JSON patch value (Kyverno substitutes it into the "
                                     "patch text before parsing it)")
            path = re.sub(r"\{\{\s*elementIndex\s*\}\}", _INDEX, path) if isinstance(path, str) else path
            if not isinstance(path, str) or not path.startswith(slot) or path.count("{{") != 1:
                raise Untranslatable(f"the foreach JSON patch path {path!r} (only paths below "
                                     f"{slot.replace('{{elementIndex}}', '{{ elementIndex }}')}...)")
            rest = [_unescape(t) for t in path[len(slot):].split("/")]
            if not rest or any(t == "" or re.fullmatch(r"-|-?\d+", t) for t in rest):
                raise Untranslatable(f"the foreach JSON patch path {path!r} (list indexes below the element)")
            for k in range(1, len(rest)):
                if tuple(rest[:k]) in touched:
                    raise Untranslatable("a foreach JSON patch operation below a path an earlier operation of the "
                                         "same element set")
            touched.update(tuple(rest[:k]) for k in range(1, len(rest) + 1))
            out.append((name, rest, op["value"]))
        return out

    def expression(self, raw_name: str) -> str:
        """The JSONPatch list over the entry's list (bound to ``raw_name``, unwrapped)."""
        prefix = json.dumps(_pointer(self.base) + "/")

        def path(tokens: list[str]) -> str:
            return f"{prefix} + string(elementIndex) + {json.dumps(_pointer(tokens))}"

        items = []
        slot_missing = f"(type({raw_name}) == map && !(string(elementIndex) in {raw_name}))"
        slot_ensured = False  # after the first add, the slot exists (its keys below are not touched again)
        for name, rest, value in self.ops:
            patch = f"[JSONPatch{{op: {json.dumps(name)}, path: {path(rest)}, value: {value_expression(value)}}}]"
            if name != "add":
                items.append(patch)
                continue
            # Kyverno's EnsurePathExistsOnAdd: each missing parent map (the slot, then below it) is created first;
            # flags[k]: the parent rest[:k] is missing, decided over the values bound along the path
            names = [self.scope.fresh() for _ in rest[:-1]]  # names[k]: the value at slot/rest[:k]
            missing = ["false" if slot_ensured else slot_missing]
            slot_ensured = True
            missing += [f"(type({names[k - 1]}) == map && !({json.dumps(rest[k - 1])} in {names[k - 1]}))"
                        for k in range(1, len(rest))]
            flags = ["(" + " || ".join(missing[:k + 1]) + ")" for k in range(len(rest))]
            f = self.scope.fresh()
            ensure = " + ".join(f"({f}[{k}] ? [JSONPatch{{op: \"add\", path: {path(rest[:k])}, value: {{}}}}] : [])"
                                for k in range(len(rest)))
            listed = ", ".join(flags)
            body = f"cel.bind({f}, [{listed}], {ensure} + {patch})"
            slot = f"(type({raw_name}) == list ? dyn({raw_name}[elementIndex]) : {slot_missing} ? dyn({{}}) : " \
                   f"dyn({raw_name}[?string(elementIndex)].orValue(null)))"
            for k in reversed(range(len(names))):
                value_of = slot if k == 0 else f"(type({names[k - 1]}) == map ? " \
                    f"dyn({names[k - 1]}[?{json.dumps(rest[k - 1])}].orValue(null)) : dyn(null))"
                body = f"cel.bind({names[k]}, {value_of}, {body})"
            items.append(body)
        return " + ".join(items)


def mutate_foreach(entries: list[Any], scope: Scope) -> list[dict[str, Any]]:
    """One JSONPatch mutation per entry."""
    mutations = []
    for raw in entries:
        entry = _Entry(raw, scope)
        r = scope.fresh()
        strict = Scope(scope.names, scope.inline, scope.counter, [])
        lookup = path_expression(raw.list_, strict)  # read leniently; Kyverno's Unknown key is an error here
        missing = " || ".join(strict.errors or []) or "false"
        expression = (f"cel.bind({r}, {lookup}, (type({r}) == list ? dyn({r}) : dyn([{r}])).transformList("
                      f"elementIndex, element, element != null && ({entry.pre}), {entry.expression(r)}).flatten())")
        expression = f"({missing}) ? {_LIST_ERROR} : {expression}"
        mutations.append({"patchType": "JSONPatch", "jsonPatch": {"expression": expression}})
    return mutations
