"""Version gating (Kyverno's latest vs pinned quirk) and ``exclude`` entries."""
from __future__ import annotations

import pytest
from pss_helpers import container, failed, restricted_container, restricted_spec

from verno.plugins.validate.podsecurity.evaluate import PodSecurityError, parse_level_version


def test_run_as_user_applies_from_1_23():
    spec = restricted_spec(restricted_container(runAsUser=0))
    assert failed("restricted", spec, "v1.22") == []
    assert failed("restricted", spec, "v1.23") == ["runAsUser"]


def test_capabilities_restricted_applies_from_1_22_and_windows_from_1_25():
    spec = restricted_spec(container(allowPrivilegeEscalation=False))
    assert failed("restricted", spec, "v1.21") == []
    assert failed("restricted", spec, "v1.22") == ["capabilities_restricted"]
    windows = restricted_spec(container(), os={"name": "windows"})
    assert failed("restricted", windows) == []
    # a pinned version runs every implementation up to it, so the 1.22 one still fails a windows pod
    assert failed("restricted", windows, "v1.25") == ["allowPrivilegeEscalation", "capabilities_restricted"]


def test_sysctls_allowed_set_grows_with_versions():
    spec = {"containers": [container()], "securityContext": {"sysctls": [{"name": "net.ipv4.tcp_rmem", "value": "x"}]}}
    assert failed("baseline", spec) == []
    # pinned: the 1.0, 1.27 and 1.29 implementations run too and each reports it
    assert failed("baseline", spec, "v1.32") == ["sysctls", "sysctls", "sysctls"]
    assert failed("baseline", spec, "v1.31") == ["sysctls", "sysctls", "sysctls"]


def test_seccomp_annotations_checked_by_pinned_versions_only():
    meta = {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}}
    spec = {"containers": [container()]}
    assert failed("baseline", spec, meta=meta) == []
    assert failed("baseline", spec, "v1.19", meta=meta) == ["seccompProfile_baseline"]
    spec = {"containers": [container(seccompProfile={"type": "Unconfined"})]}
    assert failed("baseline", spec, "v1.18") == []
    assert failed("baseline", spec, "v1.19") == ["seccompProfile_baseline"]


def test_invalid_level_or_version():
    with pytest.raises(PodSecurityError):
        parse_level_version("restricted", "1.25")
    with pytest.raises(PodSecurityError):
        parse_level_version("strict", "latest")
    assert parse_level_version("baseline", "").latest


def test_pod_level_exclude_by_control_name():
    spec = {"hostNetwork": True, "hostPID": True, "containers": [container()]}
    assert failed("baseline", spec, excludes=[{"controlName": "Host Namespaces"}]) == []
    narrowed = [{"controlName": "Host Namespaces", "restrictedField": "spec.hostNetwork", "values": ["true"]}]
    assert failed("baseline", spec, excludes=narrowed) == ["hostNamespaces"]


def test_exclude_restricted_field_and_values():
    spec = {"containers": [container()], "volumes": [{"name": "a", "hostPath": {"path": "/var/lib1"}},
                                                     {"name": "b", "hostPath": {"path": "/etc"}}]}
    field = "spec.volumes[*].hostPath"
    assert failed("baseline", spec, excludes=[{"controlName": "HostPath Volumes", "restrictedField": field,
                                               "values": ["/var/*", "/etc"]}]) == []
    only_var = [{"controlName": "HostPath Volumes", "restrictedField": field, "values": ["/var/*"]}]
    assert failed("baseline", spec, excludes=only_var) == ["hostPathVolumes"]
    wrong_field = [{"controlName": "HostPath Volumes", "restrictedField": "spec.volumes[*].nfs"}]
    assert failed("baseline", spec, excludes=wrong_field) == ["hostPathVolumes"]


def test_container_level_exclude_matches_images():
    spec = {"containers": [container("a", "ghcr.io/org/agent:1", privileged=True),
                           container("b", "nginx", privileged=True)]}
    assert failed("baseline", spec, excludes=[{"controlName": "Privileged Containers",
                                               "images": ["ghcr.io/org/*"]}]) == ["privileged"]
    assert failed("baseline", spec, excludes=[{"controlName": "Privileged Containers",
                                               "images": ["ghcr.io/org/*", "nginx"]}]) == []


def test_container_level_exclude_with_restricted_field_and_values():
    spec = {"containers": [container("a", "agent", capabilities={"add": ["NET_ADMIN"]}),
                           container("b", "agent", capabilities={"add": ["SYS_ADMIN"]})]}
    exclude = {"controlName": "Capabilities", "images": ["agent"],
               "restrictedField": "spec.containers[*].securityContext.capabilities.add", "values": ["NET_ADMIN"]}
    assert failed("baseline", spec, excludes=[exclude]) == ["capabilities_baseline"]
    exclude["values"] = ["NET_ADMIN", "SYS_ADMIN"]
    assert failed("baseline", spec, excludes=[exclude]) == []
    # the field must name the container list the container is in
    exclude["restrictedField"] = "spec.initContainers[*].securityContext.capabilities.add"
    assert failed("baseline", spec, excludes=[exclude]) == ["capabilities_baseline"]


def test_exclude_of_one_control_leaves_others():
    spec = restricted_spec(restricted_container(runAsUser=0, privileged=True))
    excludes = [{"controlName": "Running as Non-root user", "images": ["nginx"]}]
    assert failed("restricted", spec, excludes=excludes) == ["privileged"]
