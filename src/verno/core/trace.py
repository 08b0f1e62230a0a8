"""Decision traces: why a rule passed, failed, skipped or errored (``verno apply --explain``, the webhook's
``--explain-denials``, PolicyReport properties).

A :class:`Trace` is a bounded list of entries, each a small JSON-ready dict with a ``step`` (``match``,
``exclude``, ``exception``, ``precondition``, ``deny``, ``pattern``, ``foreach``, ``cel``, or a plugin's
own) and what that step decided on. It exists only when a trace was asked for: the evaluation code keeps
``None`` in its place otherwise and tests for it once per step, so a plain run pays nothing else.

Every input has a bounded trace: at most :data:`MAX_ENTRIES` entries per rule (further ones are counted in
``dropped``), every value recorded is a bounded copy (:func:`bounded`: strings cut at
:data:`MAX_STRING` characters, containers at :data:`MAX_ITEMS` items and :data:`MAX_DEPTH` levels, at most
:data:`MAX_NODES` values in all), and the texts rendered from it are cut at the length their caller gives.
"""
from __future__ import annotations

import json
from typing import Any

#: entries kept per rule; later ones are only counted
MAX_ENTRIES = 64
#: characters kept of one recorded string
MAX_STRING = 160
#: items kept of one recorded list or map
MAX_ITEMS = 8
#: levels kept of one recorded value
MAX_DEPTH = 4
#: values (scalars and containers) kept of one recorded value
MAX_NODES = 48
#: what stands for the items, levels or characters left out
ELLIPSIS = "…"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + ELLIPSIS


def bounded(value: Any) -> Any:
    """A JSON-ready copy of ``value`` with at most :data:`MAX_NODES` values (see the module docstring).

    Its cost is bounded by the limits, whatever the size of ``value``.
    """
    budget = [MAX_NODES]

    def copy(v: Any, depth: int) -> Any:
        budget[0] -= 1
        if isinstance(v, str):
            return _cut(v, MAX_STRING)
        if v is None or isinstance(v, (bool, int, float)):
            return v
        if isinstance(v, dict):
            if depth >= MAX_DEPTH or budget[0] <= 0:
                return f"{{{ELLIPSIS}{len(v)} keys}}"
            out: dict[str, Any] = {}
            for i, (k, item) in enumerate(v.items()):
                if i >= MAX_ITEMS or budget[0] <= 0:
                    out[ELLIPSIS] = f"{len(v) - i} more"
                    break
                out[_cut(str(k), MAX_STRING)] = copy(item, depth + 1)
            return out
        if isinstance(v, (list, tuple)):
            if depth >= MAX_DEPTH or budget[0] <= 0:
                return f"[{ELLIPSIS}{len(v)} items]"
            items: list[Any] = []
            for i, item in enumerate(v):
                if i >= MAX_ITEMS or budget[0] <= 0:
                    items.append(f"{ELLIPSIS}{len(v) - i} more")
                    break
                items.append(copy(item, depth + 1))
            return items
        return _cut(repr(v), MAX_STRING)

    return copy(value, 0)


class Trace:
    """The entries of one rule's decision, in the order they were made.

    ``scope`` names where the evaluation is (``foreach[0].element[2]``); entries added meanwhile carry it
    as ``at``.
    """

    __slots__ = ("dropped", "entries", "scope")

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self.dropped = 0
        self.scope = ""

    def add(self, step: str, **fields: Any) -> None:
        """Record one step; values are kept as :func:`bounded` copies."""
        if len(self.entries) >= MAX_ENTRIES:
            self.dropped += 1
            return
        entry: dict[str, Any] = {"step": step}
        if self.scope:
            entry["at"] = self.scope
        for key, value in fields.items():
            kind = type(value)
            if kind is bool or kind is int or value is None or kind is str and len(value) <= MAX_STRING:
                entry[key] = value  # as bounded() would copy it
            else:
                entry[key] = bounded(value)
        self.entries.append(entry)

    def extend(self, entries: list[dict[str, Any]]) -> None:
        """Record entries made once and shared (never modified afterwards), within the bounds."""
        room = MAX_ENTRIES - len(self.entries)
        self.entries.extend(entries[:room])
        self.dropped += max(0, len(entries) - room)

    def enter(self, label: str) -> str:
        """Enter a nested scope (a foreach element); returns the scope to give back to :meth:`leave`."""
        saved = self.scope
        self.scope = f"{saved}.{label}" if saved else label
        return saved

    def leave(self, saved: str) -> None:
        self.scope = saved

    def as_list(self) -> list[dict[str, Any]]:
        """The entries, followed by a note of how many were left out, if any."""
        if not self.dropped:
            return list(self.entries)
        return [*self.entries, {"step": "truncated", "dropped": self.dropped}]


def _show(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _on(matched: Any) -> str:
    if isinstance(matched, list):
        return " and ".join(f"({_on(m)})" for m in matched)
    if isinstance(matched, dict):
        return ", ".join(f"{k}={v if isinstance(v, str) else _show(v)}" for k, v in matched.items())
    return _show(matched)


def entry_text(entry: dict[str, Any]) -> str:
    """One entry as one line of text."""
    step = entry.get("step", "")
    at = f"[{entry['at']}] " if entry.get("at") else ""
    if "operator" in entry and "index" in entry:
        where = f" {entry['block']}[{entry['index']}]" if entry.get("block") else f" [{entry['index']}]"
        outcome = f"error: {entry['error']}" if "error" in entry else str(entry.get("result")).lower()
        return f"{at}{step}{where}: {_show(entry.get('key'))} {entry['operator']} {_show(entry.get('value'))} -> {outcome}"
    if "decided_by" in entry:
        return f"{at}{step}: {str(entry.get('result')).lower()} (decided by {entry['decided_by']})"
    if step == "match" and "clause" in entry:
        on = _on(entry.get("matched_on"))
        return f"{at}match {entry['clause']}" + (f" on {on}" if on else "")
    if step == "exclude" and "why" in entry:
        return f"{at}exclude {entry.get('clause', '')}: not excluded ({'; '.join(map(str, entry['why']))})"
    if step == "pattern":
        which = f" {entry['pattern']}" if "pattern" in entry else ""
        if "path" not in entry:
            reason = f" ({entry['reason']})" if entry.get("reason") else ""
            return f"{at}pattern{which}: {entry.get('result')}{reason}"
        found = "missing" if entry.get("missing") else _show(entry.get("found"))
        return (f"{at}pattern{which} {entry['path']}: expected {_show(entry.get('expected'))}, found {found}"
                f" -> {entry.get('result')}")
    if step == "foreach" and "foreach" in entry:
        what = f"error: {entry['error']}" if "error" in entry else f"{entry.get('elements')} element(s)"
        return f"{at}foreach[{entry['foreach']}] over {entry.get('list')}: {what}"
    if step == "element" and "index" in entry:
        return f"{at}element[{entry['index']}]: {entry.get('result')}"
    if step == "cel" and "expression" in entry:
        value = f"error: {entry['error']}" if "error" in entry else _show(entry.get("value"))
        field = f"{entry['field']}: " if entry.get("field") else ""
        return f"{at}cel {field}{entry['expression']} -> {value}"
    rest = ", ".join(f"{k}={v if isinstance(v, str) else _show(v)}" for k, v in entry.items()
                     if k not in ("step", "at"))
    return f"{at}{step}: {rest}" if rest else f"{at}{step}"


def trace_lines(entries: list[dict[str, Any]]) -> list[str]:
    return [entry_text(e) for e in entries]


def compact(entries: list[dict[str, Any]], limit: int) -> str:
    """The entries as one line of at most ``limit`` characters (``; ``-separated), for admission messages
    and report properties: the steps that decided come last, so the tail is kept when it must be cut."""
    text = "; ".join(entry_text(e).replace("\n", " ") for e in entries)
    if len(text) <= limit:
        return text
    keep = max(0, limit - len(ELLIPSIS))
    return ELLIPSIS + text[len(text) - keep:]
