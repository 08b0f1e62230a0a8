"""The vocabulary of Pod Security Standards checks (after k8s.io/pod-security-admission ``policy``).

A check has an ID, a level and versioned implementations; an implementation looks at the pod's
metadata and spec (plain dicts) and returns a ``CheckResult`` carrying field errors, as Kyverno's fork
of pod-security-admission does with ``WithFieldErrors()``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

REQUIRED = "Required"
FORBIDDEN = "Forbidden"

#: the newest Kubernetes minor version whose checks verno knows (``latest``)
LATEST_MINOR = 32


@dataclass
class FieldError:
    """A ``field.Error``: its type, its path and the offending value ("" when none)."""

    type: str
    field: str
    bad_value: Any = ""

    def error(self) -> str:
        """``field.Error.Error()``: ``<field>: Forbidden`` / ``<field>: Required value``."""
        body = "Required value" if self.type == REQUIRED else "Forbidden"
        return f"{self.field}: {body}"


def forbidden(path: str, bad_value: Any = "") -> FieldError:
    return FieldError(FORBIDDEN, path, bad_value)


def required(path: str) -> FieldError:
    return FieldError(REQUIRED, path)


@dataclass
class CheckResult:
    allowed: bool
    reason: str = ""
    detail: str = ""
    errors: list[FieldError] = field(default_factory=list)


ALLOWED = CheckResult(True)

CheckFn = Callable[[dict, dict], CheckResult]


@dataclass(frozen=True)
class VersionedCheck:
    minimum: int  # the minor version of Kubernetes 1.x from which this implementation applies
    fn: CheckFn


@dataclass(frozen=True)
class Check:
    id: str
    level: str  # "baseline" | "restricted"
    versions: tuple[VersionedCheck, ...]


class Violations:
    """Names of the violating things and the field errors they produced (``policy.Violations``)."""

    __slots__ = ("data", "errors")

    def __init__(self) -> None:
        self.data: list[str] = []
        self.errors: list[FieldError] = []

    def add(self, name: str, *errors: FieldError | None) -> None:
        self.data.append(name)
        self.errors.extend(e for e in errors if e is not None)

    def __len__(self) -> int:
        return len(self.data)

    def __bool__(self) -> bool:
        return bool(self.data)


def pluralize(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


def quote(s: str) -> str:
    """Go's ``%q`` for the strings found in pod specs."""
    out = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{out}"'


def join_quote(items: list[str]) -> str:
    return ", ".join(quote(i) for i in items)


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def security_context(obj: dict) -> dict | None:
    sc = obj.get("securityContext")
    return sc if isinstance(sc, dict) else None


def visit_containers(spec: dict) -> Iterator[tuple[dict, str]]:
    """Every container with its field path: init containers, containers, then ephemeral containers."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for i, container in enumerate(as_list(spec.get(key))):
            if isinstance(container, dict):
                yield container, f"spec.{key}[{i}]"


def name_of(container: dict) -> str:
    name = container.get("name")
    return name if isinstance(name, str) else ""


def is_windows(spec: dict) -> bool:
    return as_dict(spec.get("os")).get("name") == "windows"
