"""Kernel profile controls: AppArmor, SELinux, /proc Mount Type, Seccomp (baseline and restricted)."""
from __future__ import annotations

from verno.plugins.validate.podsecurity.model import (
    ALLOWED,
    Check,
    CheckResult,
    FieldError,
    VersionedCheck,
    Violations,
    as_dict,
    forbidden,
    is_windows,
    join_quote,
    name_of,
    pluralize,
    quote,
    required,
    security_context,
    visit_containers,
)

APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_ANNOTATION_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"
SELINUX_ALLOWED_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
SECCOMP_VALID_TYPES = frozenset({"RuntimeDefault", "Localhost"})


def _containers_named(names: list[str]) -> str:
    return f"{pluralize('container', 'containers', len(names))} {join_quote(names)}"


def _annotations(meta: dict) -> dict:
    return {k: v for k, v in as_dict(meta.get("annotations")).items() if isinstance(v, str)}


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def app_armor_v1_0(meta: dict, spec: dict) -> CheckResult:
    setters = Violations()
    bad_values: set[str] = set()
    pod_profile = as_dict(security_context(spec)).get("appArmorProfile")
    if pod_profile is not None:
        kind = _str(as_dict(pod_profile).get("type"))
        if kind not in SECCOMP_VALID_TYPES:
            setters.add("pod", forbidden("spec.securityContext.appArmorProfile.type", kind))
            bad_values.add(kind)
    containers: list[str] = []
    errs: list[FieldError] = []
    for container, path in visit_containers(spec):
        profile = as_dict(security_context(container)).get("appArmorProfile")
        if profile is not None:
            kind = _str(as_dict(profile).get("type"))
            if kind not in SECCOMP_VALID_TYPES:
                containers.append(name_of(container))
                errs.append(forbidden(f"{path}.securityContext.appArmorProfile.type", kind))
                bad_values.add(kind)
    if containers:
        setters.add(_containers_named(containers), *errs)
    annotations = [(k, v) for k, v in sorted(_annotations(meta).items()) if k.startswith(APPARMOR_ANNOTATION_PREFIX)
                   and not (v == "" or v == "runtime/default" or v.startswith("localhost/"))]
    values = sorted(bad_values)
    if annotations:
        values += [f"{k}={quote(v)}" for k, v in annotations]
        setters.add(pluralize("annotation", "annotations", len(annotations)),
                    *(forbidden(f"metadata.annotations[{k}]", v) for k, v in annotations))
    if setters:
        return CheckResult(False, pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", len(values)),
                           f"{' and '.join(setters.data)} must not set AppArmor profile type to {join_quote(values)}",
                           setters.errors)
    return ALLOWED


def se_linux_options_v1_0(meta: dict, spec: dict) -> CheckResult:
    setters = Violations()
    bad_types: set[str] = set()
    set_user = set_role = False

    def invalid(opts: dict, prefix: str) -> list[FieldError]:
        nonlocal set_user, set_role
        errs: list[FieldError] = []
        kind = _str(opts.get("type"))
        if kind not in SELINUX_ALLOWED_TYPES:
            bad_types.add(kind)
            errs.append(forbidden(f"{prefix}.seLinuxOptions.type", kind))
        for key in ("user", "role"):
            value = _str(opts.get(key))
            if value:
                set_user, set_role = set_user or key == "user", set_role or key == "role"
                errs.append(forbidden(f"{prefix}.seLinuxOptions.{key}", value))
        return errs

    pod_opts = as_dict(security_context(spec)).get("seLinuxOptions")
    if pod_opts is not None:
        errs = invalid(as_dict(pod_opts), "spec.securityContext")
        if errs:
            setters.add("pod", *errs)
    containers: list[str] = []
    container_errs: list[FieldError] = []
    for container, path in visit_containers(spec):
        opts = as_dict(security_context(container)).get("seLinuxOptions")
        if opts is not None:
            errs = invalid(as_dict(opts), f"{path}.securityContext")
            if errs:
                containers.append(name_of(container))
                container_errs.extend(errs)
    if containers:
        setters.add(_containers_named(containers), *container_errs)
    if not setters:
        return ALLOWED
    data: list[str] = []
    if bad_types:
        data.append(f"{pluralize('type', 'types', len(bad_types))} {join_quote(sorted(bad_types))}")
    if set_user:
        data.append("user may not be set")
    if set_role:
        data.append("role may not be set")
    return CheckResult(False, "seLinuxOptions", f"{' and '.join(setters.data)} set forbidden "
                       f"securityContext.seLinuxOptions: {'; '.join(data)}", setters.errors)


def proc_mount_v1_0(meta: dict, spec: dict) -> CheckResult:
    bad = Violations()
    types: set[str] = set()
    for container, path in visit_containers(spec):
        value = as_dict(security_context(container)).get("procMount")
        if value is not None and value != "Default":
            bad.add(name_of(container), forbidden(f"{path}.securityContext.procMount", _str(value)))
            types.add(_str(value))
    if bad:
        return CheckResult(False, "procMount", f"{_containers_named(bad.data)} must not set securityContext.procMount "
                           f"to {join_quote(sorted(types))}", bad.errors)
    return ALLOWED


def _valid_seccomp_annotation(value: str) -> bool:
    return value in ("runtime/default", "docker/default") or value.startswith("localhost/")


def seccomp_baseline_v1_0(meta: dict, spec: dict) -> CheckResult:
    annotations = _annotations(meta)
    found: dict[str, list[FieldError]] = {}
    keys = [SECCOMP_POD_ANNOTATION] + [SECCOMP_CONTAINER_ANNOTATION_PREFIX + name_of(c) for c, _ in visit_containers(spec)]
    for key in keys:
        value = annotations.get(key)
        if value is not None and not _valid_seccomp_annotation(value):
            found.setdefault(f"{key}={quote(value)}", []).append(forbidden(f"metadata.annotations[{key}]", value))
    if not found:
        return ALLOWED
    setters = Violations()
    for text in sorted(found):
        setters.add(text, *found[text])
    return CheckResult(False, "seccompProfile", f"forbidden {pluralize('annotation', 'annotations', len(setters))} "
                       f"{', '.join(setters.data)}", setters.errors)


def _seccomp_fields(spec: dict, *, restricted: bool) -> CheckResult:
    setters = Violations()
    bad_values: set[str] = set()
    pod_set = False
    pod_profile = as_dict(security_context(spec)).get("seccompProfile")
    if pod_profile is not None:
        kind = _str(as_dict(pod_profile).get("type"))
        if kind not in SECCOMP_VALID_TYPES:
            setters.add("pod", forbidden("spec.securityContext.seccompProfile.type", kind))
            bad_values.add(kind)
        else:
            pod_set = True
    explicit: list[str] = []
    explicit_errs: list[FieldError] = []
    implicit = Violations()
    for container, path in visit_containers(spec):
        profile = as_dict(security_context(container)).get("seccompProfile")
        field = f"{path}.securityContext.seccompProfile.type"
        if profile is not None:
            kind = _str(as_dict(profile).get("type"))
            if kind not in SECCOMP_VALID_TYPES:
                explicit.append(name_of(container))
                explicit_errs.append(forbidden(field, kind))
                bad_values.add(kind)
        elif restricted and not pod_set:
            implicit.add(name_of(container), required(field))
    if explicit:
        setters.add(_containers_named(explicit), *explicit_errs)
    if setters:
        return CheckResult(False, "seccompProfile", f"{' and '.join(setters.data)} must not set "
                           f"securityContext.seccompProfile.type to {join_quote(sorted(bad_values))}", setters.errors)
    if implicit:
        return CheckResult(False, "seccompProfile", f"pod or {_containers_named(implicit.data)} must set "
                           'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"', implicit.errors)
    return ALLOWED


def seccomp_baseline_v1_19(meta: dict, spec: dict) -> CheckResult:
    return _seccomp_fields(spec, restricted=False)


def seccomp_restricted_v1_19(meta: dict, spec: dict) -> CheckResult:
    return _seccomp_fields(spec, restricted=True)


def seccomp_restricted_v1_25(meta: dict, spec: dict) -> CheckResult:
    return ALLOWED if is_windows(spec) else seccomp_restricted_v1_19(meta, spec)


CHECKS = (
    Check("appArmorProfile", "baseline", (VersionedCheck(0, app_armor_v1_0),)),
    Check("procMount", "baseline", (VersionedCheck(0, proc_mount_v1_0),)),
    Check("seLinuxOptions", "baseline", (VersionedCheck(0, se_linux_options_v1_0),)),
    Check("seccompProfile_baseline", "baseline", (VersionedCheck(0, seccomp_baseline_v1_0),
                                                  VersionedCheck(19, seccomp_baseline_v1_19))),
    Check("seccompProfile_restricted", "restricted", (VersionedCheck(19, seccomp_restricted_v1_19),
                                                      VersionedCheck(25, seccomp_restricted_v1_25))),
)
