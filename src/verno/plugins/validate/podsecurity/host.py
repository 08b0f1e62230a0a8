"""Host access controls: HostProcess, Host Namespaces, HostPath Volumes, Host Ports (all baseline)."""
from __future__ import annotations

from verno.plugins.validate.podsecurity.model import (
    ALLOWED,
    Check,
    CheckResult,
    VersionedCheck,
    Violations,
    as_dict,
    as_list,
    forbidden,
    join_quote,
    name_of,
    pluralize,
    security_context,
    visit_containers,
)


def _true(value: object) -> bool:
    return value is True


def windows_host_process_v1_0(meta: dict, spec: dict) -> CheckResult:
    bad_containers: list[str] = []
    errs = []
    for container, path in visit_containers(spec):
        sc = security_context(container)
        if sc is not None and _true(as_dict(sc.get("windowsOptions")).get("hostProcess")):
            bad_containers.append(name_of(container))
            errs.append(forbidden(f"{path}.securityContext.windowsOptions.hostProcess", True))
    setters = Violations()
    pod_sc = security_context(spec)
    if pod_sc is not None and _true(as_dict(pod_sc.get("windowsOptions")).get("hostProcess")):
        setters.add("pod", forbidden("spec.securityContext.windowsOptions.hostProcess", True))
    if bad_containers:
        setters.add(f"{pluralize('container', 'containers', len(bad_containers))} {join_quote(bad_containers)}",
                    *errs)
    if setters:
        return CheckResult(False, "hostProcess",
                           f"{' and '.join(setters.data)} must not set securityContext.windowsOptions.hostProcess=true",
                           setters.errors)
    return ALLOWED


def host_namespaces_v1_0(meta: dict, spec: dict) -> CheckResult:
    found = Violations()
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if _true(spec.get(key)):
            found.add(f"{key}=true", forbidden(f"spec.{key}", True))
    if found:
        return CheckResult(False, "host namespaces", ", ".join(found.data), found.errors)
    return ALLOWED


def host_path_volumes_v1_0(meta: dict, spec: dict) -> CheckResult:
    volumes = Violations()
    for i, volume in enumerate(as_list(spec.get("volumes"))):
        host_path = as_dict(volume).get("hostPath")
        if host_path is not None:
            path = as_dict(host_path).get("path", "")
            volumes.add(str(as_dict(volume).get("name", "")), forbidden(f"spec.volumes[{i}].hostPath", path))
    if volumes:
        return CheckResult(False, "hostPath volumes",
                           f"{pluralize('volume', 'volumes', len(volumes))} {join_quote(volumes.data)}",
                           volumes.errors)
    return ALLOWED


def host_ports_v1_0(meta: dict, spec: dict) -> CheckResult:
    bad = Violations()
    ports: set[str] = set()
    for container, path in visit_containers(spec):
        errs = []
        for i, port in enumerate(as_list(container.get("ports"))):
            host_port = as_dict(port).get("hostPort")
            if isinstance(host_port, int) and not isinstance(host_port, bool) and host_port != 0:
                ports.add(str(host_port))
                errs.append(forbidden(f"{path}.ports[{i}].hostPort", host_port))
        if errs:
            bad.add(name_of(container), *errs)
    if bad:
        listed = sorted(ports)
        detail = (f"{pluralize('container', 'containers', len(bad))} {join_quote(bad.data)} "
                  f"{pluralize('uses', 'use', len(bad))} {pluralize('hostPort', 'hostPorts', len(listed))} "
                  f"{', '.join(listed)}")
        return CheckResult(False, "hostPort", detail, bad.errors)
    return ALLOWED


CHECKS = (
    Check("hostNamespaces", "baseline", (VersionedCheck(0, host_namespaces_v1_0),)),
    Check("hostPathVolumes", "baseline", (VersionedCheck(0, host_path_volumes_v1_0),)),
    Check("hostPorts", "baseline", (VersionedCheck(0, host_ports_v1_0),)),
    Check("windowsHostProcess", "baseline", (VersionedCheck(0, windows_host_process_v1_0),)),
)
