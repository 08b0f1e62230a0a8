"""Label and field selectors: the `labelSelector`/`fieldSelector` query strings and LabelSelector objects."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from .status import APIError, bad_request

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KEY = re.compile(rf"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{_NAME}$")
_VALUE = re.compile(rf"^({_NAME})?$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str            # in, notin, exists, !, gt, lt   (=, ==, != are in/notin with one value)
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        has = self.key in labels
        value = labels.get(self.key)
        if self.op == "in":
            return has and value in self.values
        if self.op == "notin":
            return not has or value not in self.values
        if self.op == "exists":
            return has
        if self.op == "!":
            return not has
        if not has or not re.fullmatch(r"-?\d+", value or ""):
            return False
        limit = int(self.values[0])
        return int(value) > limit if self.op == "gt" else int(value) < limit


LabelMatcher = Callable[[dict[str, str]], bool]


def parse_label_selector(text: str) -> LabelMatcher:
    """`k=v,k!=v,k in (a,b),k notin (a),k,!k,k>1` (comma = AND); 400 BadRequest on bad syntax."""
    reqs = [_parse_requirement(part.strip(), text) for part in _split_top(text) if part.strip()]
    return lambda labels: all(r.matches(labels or {}) for r in reqs)


def _split_top(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def _parse_requirement(part: str, whole: str) -> Requirement:
    m = re.fullmatch(r"(\S+?)\s+(in|notin)\s*\(([^()]*)\)", part)
    if m:
        values = tuple(v.strip() for v in m.group(3).split(",")) if m.group(3).strip() else ()
        return _checked(Requirement(m.group(1), m.group(2), values), whole)
    if part.startswith("!"):
        return _checked(Requirement(part[1:].strip(), "!"), whole)
    m = re.fullmatch(r"([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(\S*)", part)
    if m:
        key, op, value = m.groups()
        if op in (">", "<"):
            if not re.fullmatch(r"-?\d+", value):
                raise bad_request(f"unable to parse requirement: for 'gt', 'lt' operators, the value must be an "
                                  f"integer: {value!r}")
            return _checked(Requirement(key, "gt" if op == ">" else "lt", (value,)), whole)
        return _checked(Requirement(key, "notin" if op == "!=" else "in", (value,)), whole)
    if re.fullmatch(r"\S+", part):
        return _checked(Requirement(part, "exists"), whole)
    raise bad_request(f"unable to parse requirement: found '{part}', expected: in, notin, =, ==, !=, gt, lt")


def _checked(req: Requirement, whole: str) -> Requirement:
    if not _KEY.match(req.key) or len(req.key.rpartition("/")[2]) > 63:
        raise bad_request(f"unable to parse requirement: <nil>: Invalid value: \"{req.key}\": name part must consist "
                          "of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
                          "character")
    for v in req.values:
        if req.op in ("in", "notin") and not _VALUE.match(v):
            raise bad_request(f"unable to parse requirement: values[0][{req.key}]: Invalid value: \"{v}\": a valid "
                              "label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                              "and must start and end with an alphanumeric character")
    return req


def label_selector_object(selector: dict[str, Any] | None) -> LabelMatcher:
    """A LabelSelector object (matchLabels, matchExpressions); None or {} matches everything."""
    if not selector:
        return lambda labels: True
    reqs = [Requirement(k, "in", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in selector.get("matchExpressions") or []:
        op = ops.get(expr.get("operator"))
        if op is None:
            raise ValueError(f"{expr.get('operator')!r} is not a valid label selector operator")
        reqs.append(Requirement(expr["key"], op, tuple(expr.get("values") or ())))
    return lambda labels: all(r.matches(labels or {}) for r in reqs)


# Built-in field selectors beyond metadata.name/metadata.namespace, by (group, plural).
EXTRA_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "pods"): ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                   "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"),
    ("", "events"): ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                     "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
                     "reason", "reportingComponent", "source", "type"),
    ("", "secrets"): ("type",),
    ("", "namespaces"): ("status.phase",),
    ("", "nodes"): ("spec.unschedulable",),
    ("", "replicationcontrollers"): ("status.replicas",),
    ("apps", "replicasets"): ("status.replicas",),
    ("batch", "jobs"): ("status.successful",),
}


def parse_field_selector(text: str, allowed: tuple[str, ...]) -> Callable[[dict[str, Any]], bool]:
    terms = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        m = re.fullmatch(r"([^=!]+?)\s*(==|=|!=)\s*(.*)", part)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        path, op, value = m.groups()
        if path not in allowed:
            known = ", ".join(f'"{a}"' for a in allowed)
            raise bad_request(f'"{path}" is not a known field selector: only {known}')
        terms.append((path, op != "!=", value))

    def match(obj: dict[str, Any]) -> bool:
        return all((_field_text(obj, path) == value) == positive for path, positive, value in terms)
    return match


def _field_text(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def label_selector_error(exc: ValueError) -> APIError:
    return bad_request(str(exc))
