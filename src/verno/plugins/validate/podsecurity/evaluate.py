"""Evaluating a pod against a level and version (K: pkg/pss/evaluate.go ``evaluatePSS``/``EvaluatePod``).

Kyverno's quirks are kept: with ``latest`` only the newest implementation of each check runs; with a
pinned version every implementation whose minimum version is not newer runs, each reporting on its own.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from verno.core.errors import VernoError
from verno.plugins.validate.podsecurity import host, privileges, profiles, volumes
from verno.plugins.validate.podsecurity.model import LATEST_MINOR, Check, CheckResult

#: every check, in the order pod-security-admission registers them (its file names, sorted)
CHECKS: tuple[Check, ...] = tuple(sorted(host.CHECKS + privileges.CHECKS + profiles.CHECKS + volumes.CHECKS,
                                         key=lambda c: c.id.encode()))

#: Kyverno's ``PSS_controls_to_check_id``: the control names an ``exclude`` may use
CONTROL_CHECK_IDS: dict[str, tuple[str, ...]] = {
    "Capabilities": ("capabilities_baseline", "capabilities_restricted"),
    "Seccomp": ("seccompProfile_baseline", "seccompProfile_restricted"),
    "Privileged Containers": ("privileged",),
    "Host Ports": ("hostPorts",),
    "/proc Mount Type": ("procMount",),
    "HostProcess": ("windowsHostProcess",),
    "SELinux": ("seLinuxOptions",),
    "Host Namespaces": ("hostNamespaces",),
    "HostPath Volumes": ("hostPathVolumes",),
    "Sysctls": ("sysctls",),
    "AppArmor": ("appArmorProfile",),
    "Privilege Escalation": ("allowPrivilegeEscalation",),
    "Running as Non-root": ("runAsNonRoot",),
    "Running as Non-root user": ("runAsUser",),
    "Volume Types": ("restrictedVolumes",),
}
CHECK_ID_TO_CONTROL = {cid: name for name, ids in CONTROL_CHECK_IDS.items() for cid in ids}

_VERSION = re.compile(r"^v1\.(0|[1-9][0-9]*)$")
LEVELS = ("privileged", "baseline", "restricted")


class PodSecurityError(VernoError):
    """An invalid level or version."""


@dataclass(frozen=True)
class LevelVersion:
    level: str
    minor: int | None  # None: latest

    @property
    def latest(self) -> bool:
        return self.minor is None


def parse_level_version(level: str, version: str | None) -> LevelVersion:
    if level not in LEVELS:
        raise PodSecurityError(f'invalid level "{level}": must be one of privileged, baseline, restricted')
    if not version or version == "latest":
        return LevelVersion(level, None)
    m = _VERSION.match(version)
    if m is None:
        raise PodSecurityError(f'invalid version "{version}": must be "latest" or "v1.x"')
    return LevelVersion(level, int(m.group(1)))


@dataclass
class CheckOutcome:
    """A failed check (Kyverno's ``PSSCheckResult``), with the images of the containers it names."""

    id: str
    result: CheckResult
    images: list[str] | None = field(default=None)

    @property
    def control(self) -> str:
        return CHECK_ID_TO_CONTROL.get(self.id, self.id)


def evaluate_pss(lv: LevelVersion, meta: dict, spec: dict) -> list[CheckOutcome]:
    """Every failing check for the pod at ``lv`` (privileged: none)."""
    if lv.level == "privileged":
        return []
    out: list[CheckOutcome] = []
    for check in CHECKS:
        if lv.level == "baseline" and check.level != "baseline":
            continue
        if lv.latest:
            newest = max(check.versions, key=lambda v: v.minimum)
            if newest.minimum <= LATEST_MINOR:
                _append(out, check.id, newest.fn(meta, spec))
            continue
        for versioned in check.versions:
            if lv.minor is not None and lv.minor < versioned.minimum:
                continue
            _append(out, check.id, versioned.fn(meta, spec))
    return out


def _append(out: list[CheckOutcome], check_id: str, result: CheckResult) -> None:
    if not result.allowed:
        out.append(CheckOutcome(check_id, CheckResult(False, result.reason, result.detail, list(result.errors))))


def evaluate_pod(lv: LevelVersion, excludes: list[dict], meta: dict, spec: dict) -> tuple[bool, list[CheckOutcome]]:
    """``EvaluatePod``: the checks that fail once the rule's ``exclude`` entries forgave what they name."""
    from verno.plugins.validate.podsecurity.exclude import apply_exclusions

    results = evaluate_pss(lv, meta, spec)
    if excludes:
        results = apply_exclusions(lv, excludes, results, meta, spec)
    return not results, results


def format_checks(checks: list[CheckOutcome]) -> str:
    """``FormatChecksPrint``: ``(Forbidden reason: <r>, field error list: [<e>, ...])`` per check."""
    parts: list[str] = []
    for check in checks:
        errors = []
        for err in check.result.errors:
            if err.type == "Forbidden" and err.bad_value != "":
                errors.append(f"{err.field} is forbidden, forbidden values found: {go_value(err.bad_value)}")
            else:
                errors.append(err.error())
        parts.append(f"(Forbidden reason: {check.result.reason}, field error list: [{', '.join(errors)}])")
    return "".join(parts)


def go_value(value: object) -> str:
    """Go's ``%+v`` for the values checks report."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    return str(value)
