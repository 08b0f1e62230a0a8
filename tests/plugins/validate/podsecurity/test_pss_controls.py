"""Each control: a pod that passes and a pod that fails, with the field errors Kyverno reports."""
from __future__ import annotations

from pss_helpers import checks, container, failed, restricted_container, restricted_spec

from verno.plugins.validate.podsecurity.evaluate import format_checks


def test_a_clean_pod_passes_every_level():
    spec = restricted_spec()
    for level in ("privileged", "baseline", "restricted"):
        assert failed(level, spec) == []


def test_privileged_level_always_passes():
    spec = {"hostNetwork": True, "containers": [container(privileged=True)]}
    assert failed("privileged", spec) == []
    assert failed("baseline", spec) == ["hostNamespaces", "privileged"]


def test_host_process():
    spec = restricted_spec(restricted_container(windowsOptions={"hostProcess": True}),
                           securityContext={"windowsOptions": {"hostProcess": True}})
    [check] = checks("baseline", spec)
    assert check.id == "windowsHostProcess"
    assert check.result.detail == ('pod and container "app" must not set '
                                   "securityContext.windowsOptions.hostProcess=true")
    assert [e.field for e in check.result.errors] == ["spec.securityContext.windowsOptions.hostProcess",
                                                      "spec.containers[0].securityContext.windowsOptions.hostProcess"]
    assert failed("baseline", restricted_spec(restricted_container(windowsOptions={"hostProcess": False}))) == []


def test_host_namespaces():
    [check] = checks("baseline", {"hostPID": True, "hostIPC": True, "hostNetwork": False, "containers": [container()]})
    assert check.result.reason == "host namespaces"
    assert check.result.detail == "hostPID=true, hostIPC=true"
    assert format_checks([check]) == ("(Forbidden reason: host namespaces, field error list: [spec.hostPID is "
                                      "forbidden, forbidden values found: true, spec.hostIPC is forbidden, forbidden "
                                      "values found: true])")


def test_privileged_containers():
    spec = {"initContainers": [container("init", privileged=True)],
            "containers": [container("a", privileged=False), container("b", privileged=True)]}
    [check] = checks("baseline", spec)
    assert check.result.detail == 'containers "init", "b" must not set securityContext.privileged=true'
    assert [e.field for e in check.result.errors] == ["spec.initContainers[0].securityContext.privileged",
                                                      "spec.containers[1].securityContext.privileged"]


def test_capabilities_baseline():
    ok = {"containers": [container(capabilities={"add": ["CHOWN", "NET_BIND_SERVICE"]})]}
    assert failed("baseline", ok) == []
    [check] = checks("baseline", {"containers": [container(capabilities={"add": ["SYS_ADMIN", "NET_RAW", "KILL"]})]})
    assert check.id == "capabilities_baseline"
    assert check.result.detail == ('container "app" must not include "NET_RAW", "SYS_ADMIN" in '
                                   "securityContext.capabilities.add")
    assert check.result.errors[0].bad_value == ["NET_RAW", "SYS_ADMIN"]


def test_capabilities_restricted():
    assert failed("restricted", restricted_spec(restricted_container(capabilities={
        "drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}))) == []
    spec = restricted_spec(restricted_container("a", capabilities={"drop": ["NET_RAW"]}),
                           restricted_container("b", capabilities={"drop": ["ALL"], "add": ["CHOWN"]}),
                           container("c", allowPrivilegeEscalation=False))
    [check] = checks("restricted", spec)
    assert check.id == "capabilities_restricted"
    assert check.result.detail == ('containers "a", "c" must set securityContext.capabilities.drop=["ALL"]; '
                                   'container "b" must not include "CHOWN" in securityContext.capabilities.add')
    assert format_checks([check]) == (
        "(Forbidden reason: unrestricted capabilities, field error list: [spec.containers[0].securityContext."
        "capabilities.drop is forbidden, forbidden values found: [NET_RAW], spec.containers[2].securityContext."
        "capabilities.drop: Required value, spec.containers[1].securityContext.capabilities.add is forbidden, "
        "forbidden values found: [CHOWN]])")


def test_host_path_volumes():
    spec = {"containers": [container()], "volumes": [{"name": "cfg", "configMap": {"name": "x"}},
                                                     {"name": "host", "hostPath": {"path": "/etc"}}]}
    [check] = checks("baseline", spec)
    assert check.result.detail == 'volume "host"'
    assert (check.result.errors[0].field, check.result.errors[0].bad_value) == ("spec.volumes[1].hostPath", "/etc")


def test_host_ports():
    spec = {"containers": [container(), {"name": "web", "image": "nginx", "ports": [
        {"containerPort": 80, "hostPort": 8080}, {"containerPort": 443}, {"containerPort": 9, "hostPort": 10}]}]}
    [check] = checks("baseline", spec)
    assert check.result.detail == 'container "web" uses hostPorts 10, 8080'
    assert [e.field for e in check.result.errors] == ["spec.containers[1].ports[0].hostPort",
                                                      "spec.containers[1].ports[2].hostPort"]


def test_app_armor():
    ok = {"containers": [container(appArmorProfile={"type": "RuntimeDefault"})],
          "securityContext": {"appArmorProfile": {"type": "Localhost"}}}
    assert failed("baseline", ok, meta={"annotations": {
        "container.apparmor.security.beta.kubernetes.io/app": "localhost/custom"}}) == []
    spec = {"containers": [container(appArmorProfile={"type": "Unconfined"})]}
    meta = {"annotations": {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}}
    [check] = checks("baseline", spec, meta=meta)
    assert check.result.reason == "forbidden AppArmor profiles"
    assert check.result.detail == ('container "app" and annotation must not set AppArmor profile type to '
                                   '"Unconfined", "container.apparmor.security.beta.kubernetes.io/app=\\"unconfined\\""')


def test_se_linux():
    ok = {"containers": [container(seLinuxOptions={"type": "container_t", "level": "s0:c123"})]}
    assert failed("baseline", ok) == []
    spec = {"securityContext": {"seLinuxOptions": {"user": "root"}},
            "containers": [container(seLinuxOptions={"type": "spc_t", "role": "sysadm_r"})]}
    [check] = checks("baseline", spec)
    assert check.result.detail == ('pod and container "app" set forbidden securityContext.seLinuxOptions: '
                                   'type "spc_t"; user may not be set; role may not be set')
    assert [e.field for e in check.result.errors] == ["spec.securityContext.seLinuxOptions.user",
                                                      "spec.containers[0].securityContext.seLinuxOptions.type",
                                                      "spec.containers[0].securityContext.seLinuxOptions.role"]


def test_proc_mount():
    assert failed("baseline", {"containers": [container(procMount="Default")]}) == []
    [check] = checks("baseline", {"containers": [container(procMount="Unmasked")]})
    assert check.result.detail == 'container "app" must not set securityContext.procMount to "Unmasked"'


def test_seccomp_baseline_and_restricted():
    assert failed("baseline", {"containers": [container()]}) == []
    spec = {"securityContext": {"seccompProfile": {"type": "Unconfined"}}, "containers": [container()]}
    [check] = checks("baseline", spec)
    assert check.result.detail == 'pod must not set securityContext.seccompProfile.type to "Unconfined"'
    # restricted: a container without a profile and no pod profile
    spec = restricted_spec(restricted_container("a"), restricted_container("b", seccompProfile={"type": "Localhost"}),
                           securityContext={"seccompProfile": None})
    spec["securityContext"].pop("seccompProfile")
    found = checks("restricted", spec)
    assert [c.id for c in found] == ["seccompProfile_restricted"]
    assert found[0].result.detail == ('pod or container "a" must set securityContext.seccompProfile.type to '
                                      '"RuntimeDefault" or "Localhost"')
    assert found[0].result.errors[0].field == "spec.containers[0].securityContext.seccompProfile.type"


def test_sysctls():
    ok = {"containers": [container()], "securityContext": {"sysctls": [{"name": "net.ipv4.tcp_syncookies", "value": "1"}]}}
    assert failed("baseline", ok) == []
    spec = {"containers": [container()], "securityContext": {"sysctls": [
        {"name": "kernel.msgmax", "value": "1"}, {"name": "net.ipv4.tcp_rmem", "value": "1"}]}}
    [check] = checks("baseline", spec)
    assert check.result.detail == "kernel.msgmax"


def test_volume_types():
    spec = restricted_spec(volumes=[{"name": "ok", "emptyDir": {}}, {"name": "nfs", "nfs": {"server": "x", "path": "/"}},
                                    {"name": "odd"}])
    [check] = checks("restricted", spec)
    assert check.id == "restrictedVolumes"
    assert check.result.detail == 'volumes "nfs", "odd" use restricted volume types "nfs", "unknown"'
    assert [e.field for e in check.result.errors] == ["spec.volumes[1].nfs", "spec.volumes[2].unknown"]
    assert failed("baseline", spec) == []
    # restricted also runs the baseline hostPath check
    assert failed("restricted", restricted_spec(volumes=[{"name": "h", "hostPath": {"path": "/"}}])) == [
        "hostPathVolumes", "restrictedVolumes"]


def test_privilege_escalation():
    spec = restricted_spec(container("a", capabilities={"drop": ["ALL"]}),
                           restricted_container("b", allowPrivilegeEscalation=True))
    [check] = checks("restricted", spec)
    assert check.result.detail == 'containers "a", "b" must set securityContext.allowPrivilegeEscalation=false'
    assert [(e.type, e.bad_value) for e in check.result.errors] == [("Required", ""), ("Forbidden", True)]


def test_running_as_non_root():
    spec = restricted_spec(restricted_container("a"), restricted_container("b", runAsNonRoot=False))
    spec["securityContext"].pop("runAsNonRoot")
    [check] = checks("restricted", spec)
    assert check.result.detail == ('container "b" must not set securityContext.runAsNonRoot=false\n'
                                   'pod or container "a" must set securityContext.runAsNonRoot=true')
    assert [e.field for e in check.result.errors] == ["spec.containers[1].securityContext.runAsNonRoot",
                                                      "spec.containers[0].securityContext.runAsNonRoot"]


def test_running_as_non_root_user():
    spec = restricted_spec(restricted_container(runAsUser=0), securityContext={"runAsUser": 0})
    [check] = checks("restricted", spec)
    assert check.result.detail == 'pod and container "app" must not set runAsUser=0'
    assert failed("restricted", restricted_spec(restricted_container(runAsUser=1000))) == []


def test_baseline_ignores_restricted_controls():
    spec = {"containers": [container()], "volumes": [{"name": "n", "nfs": {"server": "s", "path": "/"}}]}
    assert failed("baseline", spec) == []
    assert failed("restricted", spec) == ["allowPrivilegeEscalation", "capabilities_restricted", "restrictedVolumes",
                                          "runAsNonRoot", "seccompProfile_restricted"]
