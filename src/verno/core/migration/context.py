"""A rule's ``context`` entries written as CEL ``variables``.

* ``variable``: its ``value`` (variables substituted), ``jmesPath`` (over the value when there is one, else
  over the request and earlier entries) and ``default`` (used when the result is null or a key is missing,
  as Kyverno's loader does);
* ``configMap``: ``resource.Get("v1", "configmaps", namespace, name)`` reduced to the ``data`` and
  ``metadata`` Kyverno's loader gives (the namespace defaults to ``default``);
* ``apiCall`` GETs of a Kubernetes path (``/api/v1/...``, ``/apis/<group>/<version>/...``) without query
  parameters: ``resource.Get`` for one object, ``resource.List`` for a collection, then its ``jmesPath`` and
  ``default``.

Entries are loaded when first read, in both Kyverno (deferred loading) and CEL (lazy variables). Service
calls, POSTs, ``imageRegistry`` and ``globalReference`` entries, and names that are not CEL identifiers
(after ``-`` becomes ``_``), raise :class:`Untranslatable`.
"""
from __future__ import annotations

import json
import re
from typing import Any

from verno.core.migration.errors import Untranslatable
from verno.core.migration.expressions import Scope, value_expression, variable_expression
from verno.core.migration.jmespath_cel import compile_jmespath

__all__ = ["translate_context"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_CORE = re.compile(r"^/api/(?P<version>v1)(?P<rest>/.*)?$")
_GROUP = re.compile(r"^/apis/(?P<group>[^/]+)/(?P<version>[^/]+)(?P<rest>/.*)?$")


def _with_default(expr: str, default: Any, scope: Scope) -> str:
    if default is None:
        return expr
    v = scope.fresh()
    return f"cel.bind({v}, {expr}, dyn({v}) == null ? dyn({value_expression(default, scope)}) : dyn({v}))"


def _jmespath(text: str, over: str | None, default: Any, scope: Scope) -> str:
    if "{{" in text:
        raise Untranslatable(f"a jmesPath with variables ({text!r})")
    if over is None and default is None:
        return variable_expression(text, scope)  # a plain path strictly: a missing key is an error on both sides
    if over is not None:
        v = scope.fresh()
        return f"cel.bind({v}, {over}, {_with_default(compile_jmespath(text, scope, v), default, scope)})"
    return _with_default(compile_jmespath(text, scope), default, scope)


def _segment(text: str, scope: Scope) -> str:
    if not text:
        raise Untranslatable("an apiCall urlPath with an empty segment")
    return value_expression(text, scope)


def _api_call(call: Any, scope: Scope) -> str:
    if call.service is not None or call.method != "GET" or call.data:
        raise Untranslatable("an apiCall to a service, or a POST (only GETs of Kubernetes paths translate)")
    path = call.url_path.strip()
    if "?" in path:
        raise Untranslatable(f"the apiCall urlPath {path!r} (query parameters have no resource.Get/List form)")
    m = _CORE.match(path) or _GROUP.match(path)
    if m is None:
        raise Untranslatable(f"the apiCall urlPath {path!r} (not a /api or /apis path)")
    group = m.groupdict().get("group")
    api_version = json.dumps(f"{group}/{m['version']}" if group else m["version"])
    parts = [p for p in (m["rest"] or "").split("/")[1:]]
    namespace = '""'
    if len(parts) >= 2 and parts[0] == "namespaces" and len(parts) != 2:
        namespace, parts = _segment(parts[1], scope), parts[2:]
    if len(parts) == 1:
        expr = f"resource.List({api_version}, {_segment(parts[0], scope)}, {namespace})"
    elif len(parts) == 2:
        expr = f"resource.Get({api_version}, {_segment(parts[0], scope)}, {namespace}, {_segment(parts[1], scope)})"
    else:
        raise Untranslatable(f"the apiCall urlPath {path!r} (a subresource or an unknown path shape)")
    if call.jmes_path:
        return _jmespath(call.jmes_path, expr, call.default, scope)
    return _with_default(expr, call.default, scope)


def _entry(entry: Any, scope: Scope) -> str:
    if entry.variable is not None:
        var = entry.variable
        over = value_expression(var.value, scope) if var.value is not None else None
        if var.jmes_path:
            return _jmespath(var.jmes_path, over, var.default, scope)
        if over is None:
            if var.default is None:
                raise Untranslatable(f"the context variable {entry.name!r} has no value, jmesPath or default")
            return value_expression(var.default, scope)
        return _with_default(over, var.default, scope)
    if entry.config_map is not None:
        ref = entry.config_map
        namespace = value_expression(ref.namespace or "default", scope)
        cm = scope.fresh()
        return (f"cel.bind({cm}, resource.Get(\"v1\", \"configmaps\", {namespace}, {value_expression(ref.name, scope)}), "
                f"{{\"data\": {cm}.?data.orValue(null), \"metadata\": {cm}.?metadata.orValue(null)}})")
    if entry.api_call is not None:
        return _api_call(entry.api_call, scope)
    source = entry.source_key() or "a bare name"
    raise Untranslatable(f"the context entry {entry.name!r} ({source} has no CEL translation)")


def _read_later(name: str, rule: Any, index: int) -> bool:
    """Whether ``name`` is read by the rule outside its context, or by a later entry that is itself read."""
    data = rule.model_dump(by_alias=True, exclude_none=True)
    entries = data.pop("context", [])
    data.pop("name", None)
    found = re.compile(rf"(?<![A-Za-z0-9_-]){re.escape(name)}(?![A-Za-z0-9_-])")
    if found.search(json.dumps(data)):
        return True
    return any(found.search(json.dumps({k: v for k, v in e.items() if k != "name"})) and
               _read_later(e["name"], rule, index + 1 + j) for j, e in enumerate(entries[index + 1:]))


def translate_context(rule: Any, entries: list[Any], scope: Scope) -> tuple[list[dict[str, str]], Scope, Scope]:
    """(the CEL ``variables``, the scope in which later expressions read them, and the scope for match
    conditions, where each entry is written out in full: a ValidatingPolicy's matchConditions cannot read
    ``variables``)."""
    variables: list[dict[str, str]] = []
    names: dict[str, str] = {}
    inline: dict[str, str] = dict(scope.inline or {})
    for i, entry in enumerate(entries):
        if (entry.config_map is not None or entry.api_call is not None) and not _read_later(entry.name, rule, i):
            raise Untranslatable(f"the context entry {entry.name!r} is never read (Kyverno still loads it, and a "
                                 "missing object is an error there; a CEL variable nobody reads is never evaluated)")
        if not _NAME.fullmatch(entry.name) or entry.name in ("request", "element", "elementIndex", "images"):
            raise Untranslatable(f"the context entry name {entry.name!r} (not a plain name)")
        cel_name = entry.name.replace("-", "_")
        if any(n != entry.name and c == cel_name for n, c in names.items()):
            raise Untranslatable(f"the context entry names {entry.name!r} and another one are the same in CEL")
        expression = _entry(entry, scope)
        inline[entry.name] = _entry(entry, Scope(scope.names, dict(inline), scope.counter))
        if entry.name in names:  # a later entry of the same name replaces the earlier one
            variables = [v for v in variables if v["name"] != cel_name]
        names[entry.name] = cel_name
        variables.append({"name": cel_name, "expression": expression})
        scope = Scope({**scope.names, entry.name: f"variables.{cel_name}"}, scope.inline, scope.counter)
    return variables, scope, Scope(scope.names, inline, scope.counter)
