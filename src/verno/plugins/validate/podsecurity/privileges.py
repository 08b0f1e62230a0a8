"""Privilege controls: Privileged Containers, Capabilities (baseline and restricted), Privilege
Escalation, Running as Non-root, Running as Non-root user."""
from __future__ import annotations

from verno.plugins.validate.podsecurity.model import (
    ALLOWED,
    Check,
    CheckResult,
    FieldError,
    VersionedCheck,
    Violations,
    as_dict,
    as_list,
    forbidden,
    is_windows,
    join_quote,
    name_of,
    pluralize,
    required,
    security_context,
    visit_containers,
)

CAPABILITIES_ALLOWED_1_0 = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP",
    "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})


def _containers_named(names: list[str]) -> str:
    return f"{pluralize('container', 'containers', len(names))} {join_quote(names)}"


def _is_zero(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value == 0


def privileged_v1_0(meta: dict, spec: dict) -> CheckResult:
    bad = Violations()
    for container, path in visit_containers(spec):
        sc = security_context(container)
        if sc is not None and sc.get("privileged") is True:
            bad.add(name_of(container), forbidden(f"{path}.securityContext.privileged", True))
    if bad:
        return CheckResult(False, "privileged", f"{_containers_named(bad.data)} must not set securityContext.privileged=true",
                           bad.errors)
    return ALLOWED


def capabilities_baseline_v1_0(meta: dict, spec: dict) -> CheckResult:
    bad = Violations()
    non_default: set[str] = set()
    for container, path in visit_containers(spec):
        sc = security_context(container)
        if sc is None or sc.get("capabilities") is None:
            continue
        added = {str(c) for c in as_list(as_dict(sc.get("capabilities")).get("add"))}
        forbidden_caps = sorted(c for c in added if c not in CAPABILITIES_ALLOWED_1_0)
        if forbidden_caps:
            non_default.update(forbidden_caps)
            bad.add(name_of(container), forbidden(f"{path}.securityContext.capabilities.add", forbidden_caps))
    if bad:
        return CheckResult(False, "non-default capabilities",
                           f"{_containers_named(bad.data)} must not include {join_quote(sorted(non_default))} "
                           "in securityContext.capabilities.add", bad.errors)
    return ALLOWED


def capabilities_restricted_v1_22(meta: dict, spec: dict) -> CheckResult:
    forbidden_caps: set[str] = set()
    missing_drop_all = Violations()
    adding_forbidden = Violations()
    for container, path in visit_containers(spec):
        sc = security_context(container)
        caps_path = f"{path}.securityContext.capabilities"
        if sc is None or sc.get("capabilities") is None:
            missing_drop_all.add(name_of(container), required(f"{caps_path}.drop"))
            continue
        caps = as_dict(sc.get("capabilities"))
        drop = [str(c) for c in as_list(caps.get("drop"))]
        if "ALL" not in drop:
            if drop:
                missing_drop_all.add(name_of(container), forbidden(f"{caps_path}.drop", sorted(set(drop))))
            else:
                missing_drop_all.add(name_of(container), required(f"{caps_path}.drop"))
        bad_add = sorted({str(c) for c in as_list(caps.get("add")) if c != "NET_BIND_SERVICE"})
        if bad_add:
            forbidden_caps.update(bad_add)
            adding_forbidden.add(name_of(container), forbidden(f"{caps_path}.add", bad_add))
    details: list[str] = []
    if missing_drop_all:
        details.append(f'{_containers_named(missing_drop_all.data)} must set securityContext.capabilities.drop=["ALL"]')
    if adding_forbidden:
        details.append(f"{_containers_named(adding_forbidden.data)} must not include "
                       f"{join_quote(sorted(forbidden_caps))} in securityContext.capabilities.add")
    if details:
        return CheckResult(False, "unrestricted capabilities", "; ".join(details),
                           missing_drop_all.errors + adding_forbidden.errors)
    return ALLOWED


def capabilities_restricted_v1_25(meta: dict, spec: dict) -> CheckResult:
    return ALLOWED if is_windows(spec) else capabilities_restricted_v1_22(meta, spec)


def allow_privilege_escalation_v1_8(meta: dict, spec: dict) -> CheckResult:
    bad = Violations()
    for container, path in visit_containers(spec):
        sc = security_context(container)
        value = None if sc is None else sc.get("allowPrivilegeEscalation")
        field = f"{path}.securityContext.allowPrivilegeEscalation"
        if value is None:
            bad.add(name_of(container), required(field))
        elif value is not False:
            bad.add(name_of(container), forbidden(field, value))
    if bad:
        return CheckResult(False, "allowPrivilegeEscalation != false",
                           f"{_containers_named(bad.data)} must set securityContext.allowPrivilegeEscalation=false",
                           bad.errors)
    return ALLOWED


def allow_privilege_escalation_v1_25(meta: dict, spec: dict) -> CheckResult:
    return ALLOWED if is_windows(spec) else allow_privilege_escalation_v1_8(meta, spec)


def run_as_non_root_v1_0(meta: dict, spec: dict) -> CheckResult:
    setters = Violations()
    pod_non_root = False
    pod_value = as_dict(security_context(spec)).get("runAsNonRoot")
    if pod_value is not None:
        if pod_value is False:
            setters.add("pod", forbidden("spec.securityContext.runAsNonRoot", False))
        else:
            pod_non_root = True
    explicit: list[str] = []
    explicit_errs: list[FieldError] = []
    implicit = Violations()
    for container, path in visit_containers(spec):
        value = as_dict(security_context(container)).get("runAsNonRoot")
        if value is not None:
            if value is False:
                explicit.append(name_of(container))
                explicit_errs.append(forbidden(f"{path}.securityContext.runAsNonRoot", False))
        elif not pod_non_root:
            implicit.add(name_of(container), required(f"{path}.securityContext.runAsNonRoot"))
    if explicit:
        setters.add(_containers_named(explicit), *explicit_errs)
    details: list[str] = []
    errors: list[FieldError] = []
    if setters:
        details.append(f"{' and '.join(setters.data)} must not set securityContext.runAsNonRoot=false")
        errors.extend(setters.errors)
    if implicit:
        details.append(f"pod or {_containers_named(implicit.data)} must set securityContext.runAsNonRoot=true")
        errors.extend(implicit.errors)
    if details:
        return CheckResult(False, "runAsNonRoot != true", "\n".join(details), errors)
    return ALLOWED


def run_as_user_v1_23(meta: dict, spec: dict) -> CheckResult:
    setters = Violations()
    if _is_zero(as_dict(security_context(spec)).get("runAsUser")):
        setters.add("pod", forbidden("spec.securityContext.runAsUser", 0))
    explicit: list[str] = []
    errs: list[FieldError] = []
    for container, path in visit_containers(spec):
        if _is_zero(as_dict(security_context(container)).get("runAsUser")):
            explicit.append(name_of(container))
            errs.append(forbidden(f"{path}.securityContext.runAsUser", 0))
    if explicit:
        setters.add(_containers_named(explicit), *errs)
    if setters:
        return CheckResult(False, "runAsUser=0", f"{' and '.join(setters.data)} must not set runAsUser=0", setters.errors)
    return ALLOWED


CHECKS = (
    Check("allowPrivilegeEscalation", "restricted", (VersionedCheck(8, allow_privilege_escalation_v1_8),
                                                     VersionedCheck(25, allow_privilege_escalation_v1_25))),
    Check("capabilities_baseline", "baseline", (VersionedCheck(0, capabilities_baseline_v1_0),)),
    Check("capabilities_restricted", "restricted", (VersionedCheck(22, capabilities_restricted_v1_22),
                                                    VersionedCheck(25, capabilities_restricted_v1_25))),
    Check("privileged", "baseline", (VersionedCheck(0, privileged_v1_0),)),
    Check("runAsNonRoot", "restricted", (VersionedCheck(0, run_as_non_root_v1_0),)),
    Check("runAsUser", "restricted", (VersionedCheck(23, run_as_user_v1_23),)),
)
