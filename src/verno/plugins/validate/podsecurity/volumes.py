"""Pod-level resource controls: Sysctls (baseline) and Volume Types (restricted)."""
from __future__ import annotations

from typing import Callable

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
    pluralize,
    security_context,
)

SYSCTLS_1_0 = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
})
SYSCTLS_1_27 = SYSCTLS_1_0 | {"net.ipv4.ip_local_reserved_ports"}
SYSCTLS_1_29 = SYSCTLS_1_27 | {"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                               "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}
SYSCTLS_1_32 = SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}

#: volume sources the restricted profile allows
ALLOWED_VOLUMES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim",
                   "projected", "secret")
#: the restricted sources, in the order pod-security-admission tests them
RESTRICTED_VOLUMES = ("hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi", "glusterfs",
                      "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile", "vsphereVolume",
                      "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume", "scaleIO", "storageos")


def _sysctls(allowed: frozenset[str]) -> Callable[[dict, dict], CheckResult]:
    def check(meta: dict, spec: dict) -> CheckResult:
        found = Violations()
        for i, sysctl in enumerate(as_list(as_dict(security_context(spec)).get("sysctls"))):
            name = as_dict(sysctl).get("name")
            name = name if isinstance(name, str) else ""
            if name not in allowed:
                found.add(name, forbidden(f"spec.securityContext.sysctls[{i}].name", name))
        if found:
            return CheckResult(False, "forbidden sysctls", ", ".join(found.data), found.errors)
        return ALLOWED

    return check


def restricted_volumes_v1_0(meta: dict, spec: dict) -> CheckResult:
    bad = Violations()
    types: set[str] = set()
    for i, volume in enumerate(as_list(spec.get("volumes"))):
        volume = as_dict(volume)
        if any(volume.get(key) is not None for key in ALLOWED_VOLUMES):
            continue
        kind = next((key for key in RESTRICTED_VOLUMES if volume.get(key) is not None), "unknown")
        types.add(kind)
        name = volume.get("name")
        bad.add(name if isinstance(name, str) else "", forbidden(f"spec.volumes[{i}].{kind}"))
    if bad:
        listed = sorted(types)
        detail = (f"{pluralize('volume', 'volumes', len(bad))} {join_quote(bad.data)} "
                  f"{pluralize('uses', 'use', len(bad))} "
                  f"{pluralize('restricted volume type', 'restricted volume types', len(listed))} {join_quote(listed)}")
        return CheckResult(False, "restricted volume types", detail, bad.errors)
    return ALLOWED


CHECKS = (
    Check("restrictedVolumes", "restricted", (VersionedCheck(0, restricted_volumes_v1_0),)),
    Check("sysctls", "baseline", (VersionedCheck(0, _sysctls(SYSCTLS_1_0)), VersionedCheck(27, _sysctls(SYSCTLS_1_27)),
                                  VersionedCheck(29, _sysctls(SYSCTLS_1_29)), VersionedCheck(32, _sysctls(SYSCTLS_1_32)))),
)
