from __future__ import annotations

import pytest

from verno.core.images import ImageError, extract_images, parse_image_reference
from verno.core.models.policy import ImageExtractor

DIGEST = "sha256:dead07b4d8ed7e29e98de0f4504d87e8880d4347859d839686a31da35a3b532f"


@pytest.mark.parametrize("raw,registry,path,name,tag,digest,reference", [
    ("nginx", "docker.io", "nginx", "nginx", "latest", "", "docker.io/nginx:latest"),
    ("nginx:v10.3", "docker.io", "nginx", "nginx", "v10.3", "", "docker.io/nginx:v10.3"),
    ("docker.io/test/nginx:v10.3", "docker.io", "test/nginx", "nginx", "v10.3", "", "docker.io/test/nginx:v10.3"),
    ("test/nginx", "docker.io", "test/nginx", "nginx", "latest", "", "docker.io/test/nginx:latest"),
    ("localhost:4443/test/nginx", "localhost:4443", "test/nginx", "nginx", "latest", "",
     "localhost:4443/test/nginx:latest"),
    ("localhost/netd:v0.4.4-gke.0", "localhost", "netd", "netd", "v0.4.4-gke.0", "", "localhost/netd:v0.4.4-gke.0"),
    (f"docker.io/test/centos@{DIGEST}", "docker.io", "test/centos", "centos", "", DIGEST,
     f"docker.io/test/centos@{DIGEST}"),
    ("ghcr.io/org/app/api:1.2@" + DIGEST, "ghcr.io", "org/app/api", "api", "1.2", DIGEST,
     "ghcr.io/org/app/api@" + DIGEST),
])
def test_kyverno_image_infos(raw, registry, path, name, tag, digest, reference):
    info = parse_image_reference(raw)
    assert (info.registry, info.path, info.name, info.tag, info.digest) == (registry, path, name, tag, digest)
    assert info.reference == reference


def test_reference_with_tag():
    assert parse_image_reference("nginx").reference_with_tag == "docker.io/nginx:latest"
    assert parse_image_reference(f"docker.io/test/centos@{DIGEST}").reference_with_tag == "docker.io/test/centos:"


def test_to_dict_omits_empty_fields():
    d = parse_image_reference(f"docker.io/test/centos@{DIGEST}").to_dict()
    assert "tag" not in d and d["digest"] == DIGEST
    assert set(parse_image_reference("nginx").to_dict()) == {
        "registry", "name", "path", "tag", "reference", "referenceWithTag"}


@pytest.mark.parametrize("bad", ["++", "Nginx", "nginx@sha256:abc", "a" * 300, "nginx@md5:" + "a" * 32])
def test_invalid(bad):
    with pytest.raises(ImageError):
        parse_image_reference(bad)


def test_pod_images():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"initContainers": [{"name": "init", "image": "busybox:1.36"}],
                    "containers": [{"name": "web", "image": "nginx"}, {"name": "side", "image": "ghcr.io/x/y:2"}],
                    "ephemeralContainers": [{"name": "dbg", "image": "debug"}]}}
    images = extract_images(pod)
    assert list(images) == ["initContainers", "containers", "ephemeralContainers"]
    assert images["containers"]["web"] == {
        "registry": "docker.io", "name": "nginx", "path": "nginx", "tag": "latest",
        "reference": "docker.io/nginx:latest", "referenceWithTag": "docker.io/nginx:latest",
        "jsonPointer": "/spec/containers/0/image"}
    assert images["containers"]["side"]["jsonPointer"] == "/spec/containers/1/image"
    assert images["initContainers"]["init"]["tag"] == "1.36"
    assert images["ephemeralContainers"]["dbg"]["jsonPointer"] == "/spec/ephemeralContainers/0/image"


def test_controllers_cronjob_and_pull_secrets():
    dep = {"kind": "Deployment", "spec": {"template": {"spec": {
        "imagePullSecrets": [{"name": "regcred"}], "containers": [{"name": "a", "image": "nginx:1"}]}}}}
    images = extract_images(dep)
    assert images["containers"]["a"]["jsonPointer"] == "/spec/template/spec/containers/0/image"
    assert images["containers"]["a"]["imagePullSecrets"] == ["regcred"]
    cron = {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {
        "containers": [{"name": "c", "image": "alpine"}]}}}}}}
    entry = extract_images(cron)["containers"]["c"]
    assert entry["jsonPointer"] == "/spec/jobTemplate/spec/template/spec/containers/0/image"
    assert "imagePullSecrets" not in entry


def test_unknown_kind_and_missing_images():
    assert extract_images({"kind": "ConfigMap", "data": {}}) == {}
    assert extract_images({"kind": "Pod", "spec": {"containers": [{"name": "x"}]}}) == {}


def test_custom_extractors():
    task = {"apiVersion": "tekton.dev/v1", "kind": "Task",
            "spec": {"steps": [{"name": "build", "image": "golang:1.22"}, {"name": "push", "image": "kaniko"}]}}
    images = extract_images(task, {"Task": [{"path": "/spec/steps/*/image", "name": "steps", "key": "name"}]})
    assert images["steps"]["build"]["tag"] == "1.22"
    assert images["steps"]["push"]["jsonPointer"] == "/spec/steps/1/image"
    # no key: the JSON pointer is the key; default name "custom"; model objects accepted
    images = extract_images(task, {"Task": [ImageExtractor(path="/spec/steps/*", value="image")]})
    assert set(images["custom"]) == {"/spec/steps/0/image", "/spec/steps/1/image"}
    # jmesPath post-processes the value
    app = {"kind": "App", "spec": {"img": {"ref": "nginx:1.2-suffix"}}}
    out = extract_images(app, {"App": [{"path": "/spec/img/ref", "jmesPath": "trim(@, '-suffix')"}]},
                         search=lambda expr, value: value.replace("-suffix", ""))
    assert out["custom"]["/spec/img/ref"]["tag"] == "1.2"
    # custom extractors replace the built-in ones for their kind only
    pod = {"kind": "Pod", "spec": {"containers": [{"name": "a", "image": "nginx"}]}}
    assert "containers" in extract_images(pod, {"Task": [{"path": "/spec/steps/*/image"}]})


def test_extractor_errors():
    with pytest.raises(ImageError):
        extract_images({"kind": "Pod", "spec": {"containers": [{"name": "a", "image": "++"}]}})
    with pytest.raises(ImageError):
        extract_images({"kind": "Pod", "spec": {"containers": [{"image": "nginx"}]}})
    with pytest.raises(ImageError):
        extract_images({"kind": "Task"}, {"Task": []})
