"""Kyverno's CEL data libraries over the offline data a Test gives (Context file, apiCallResponses,
globalContextEntries), the per-evaluation binding and the namespace pin of namespaced policies."""
from __future__ import annotations

import threading

import pytest

from verno.core.cel import Activation, CELCompileError, CELEvaluationError, environment_for
from verno.core.cel.datasources import bound
from verno.core.cel.offline import OfflineCelData, global_context_values, http_mocks, load_context_file
from verno.core.egress import EgressPolicy
from verno.core.errors import LoadError

CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "registries", "namespace": "default",
                                                             "labels": {"app": "x"}},
      "data": {"registries": "ghcr.io"}}
OTHER_CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "namespace": "team-a"}}
NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}
NETPOL = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
          "metadata": {"name": "deny", "namespace": "default"}}
IMAGE = {"image": "ghcr.io/org/app:v1", "resolvedImage": "ghcr.io/org/app@sha256:" + "a" * 64,
         "registry": "ghcr.io", "repository": "org/app", "tag": "v1", "config": {"config": {"User": "1000"}},
         "manifest": {"schemaVersion": 2}}


def data(**kwargs) -> OfflineCelData:
    return OfflineCelData(resources=[CM, OTHER_CM, NS, NETPOL], images=[IMAGE], **kwargs)


def run(expression: str, source: OfflineCelData | None = None, *, kind: str = "ValidatingPolicy",
        namespace: str = ""):
    program = environment_for(kind).compile(expression)
    with bound(source if source is not None else data(), namespace=namespace):
        return program.evaluate(Activation({}))


def fails(expression: str, source: OfflineCelData | None = None, **kwargs) -> str:
    with pytest.raises(CELEvaluationError) as info:
        run(expression, source, **kwargs)
    return info.value.detail


def test_resource_get_finds_an_object_and_a_missing_one_is_null():
    assert run("resource.Get('v1', 'configmaps', 'default', 'registries').data.registries") == "ghcr.io"
    assert run("resource.get('v1', 'configmaps', 'default', 'registries').metadata.name") == "registries"
    assert run("resource.Get('v1', 'configmaps', 'default', 'missing')") is None
    assert run("resource.Get('v1', 'secrets', 'default', 'x') == null") is True
    assert run("resource.Get('v1', 'namespaces', '', 'default').kind") == "Namespace"
    assert run("resource.Get('networking.k8s.io/v1', 'networkpolicies', 'default', 'deny').kind") == "NetworkPolicy"


def test_resource_list_is_per_namespace_ignores_labels_and_fails_for_an_unknown_resource():
    assert run("resource.List('v1', 'configmaps', 'default').items.map(o, o.metadata.name)") == ["registries"]
    assert run("resource.list('v1', 'configmaps', 'team-a').items.size()") == 1
    assert run("resource.List('v1', 'configmaps', 'elsewhere').items") == []
    assert run("resource.List('v1', 'configmaps', 'default', {'app': 'nomatch'}).items.size()") == 1
    message = fails("resource.List('apps/v1', 'deployments', 'default')")
    assert message.startswith("deployments.apps resource not found") and "spec.resources" in message
    assert "unexpected GroupVersion string: a/b/c" in fails("resource.List('a/b/c', 'x', '')")


def test_post_and_to_gvr_are_not_available_offline():
    assert "not available offline" in fails("resource.Post('authorization.k8s.io/v1', "
                                            "'subjectaccessreviews', {'spec': {}})")
    message = fails("resource.ToGVR('apps/v1', 'Deployment')")
    assert "not available offline" in message and "'deployments'" in message


def test_namespaced_policies_lose_the_namespace_argument_and_read_their_own_namespace():
    kind = "NamespacedValidatingPolicy"
    assert run("resource.Get('v1', 'configmaps', 'registries').data.registries", kind=kind,
               namespace="default") == "ghcr.io"
    assert run("resource.List('v1', 'configmaps').items.map(o, o.metadata.name)", kind=kind,
               namespace="team-a") == ["other"]
    assert run("resource.Get('v1', 'configmaps', 'registries')", kind=kind, namespace="team-a") is None
    with pytest.raises(CELCompileError):  # the cluster-scoped signature does not exist there
        run("resource.Get('v1', 'configmaps', 'default', 'registries')", kind=kind, namespace="default")
    # in a cluster-scoped policy three strings only fit Get(gvr, namespace, name): a GVR is an opaque value
    # the runtime checks when called (Kyverno rejects it when compiling)
    assert "no such overload" in fails("resource.Get('v1', 'configmaps', 'registries')")
    assert "no namespace bound" in fails("resource.List('v1', 'configmaps')", kind=kind)


def test_http_mocks_are_looked_up_by_method_and_url_then_url():
    mocks = http_mocks({("GET", "https://svc.test/a"): {"body": {"n": 1}},
                        ("POST", "https://svc.test/b"): {"statusCode": 201, "body": {"ok": True}},
                        ("", "https://svc.test/any"): {"body": {"v": "any"}}})
    source = data(http_mocks=mocks)
    assert run("http.Get('https://svc.test/a')", source) == {"body": {"n": 1.0}, "statusCode": 200}
    assert run("http.Post('https://svc.test/b', {'x': 1}).statusCode", source) == 201
    assert run("http.post('https://svc.test/any', {}).body.v", source) == "any"
    assert run("http.Client('').Get('https://svc.test/a', {'Authorization': 'x'}).body.n", source) == 1.0
    message = fails("http.Post('https://svc.test/a', {})", source)
    assert "apiCallResponses (url: https://svc.test/a, method: POST)" in message and "--allow-egress svc.test" in message


def test_an_unmocked_url_is_fetched_only_through_the_egress_fence():
    from egress_server import serve

    seen: list[str] = []

    def route(method, path, headers):
        seen.append(f"{method} {path}")
        return 200, {"Content-Type": "application/json"}, b'{"owner": "blue", "n": 3}'

    with serve(route) as srv:
        url = srv.url() + "/owner"
        assert "mock it in the Test's apiCallResponses" in fails(f"http.Get('{url}')")
        assert seen == []
        plain = EgressPolicy.parse([f"http://127.0.0.1:{srv.port}"])
        got = run(f"http.Get('{url}')", data(egress=plain))
        assert got == {"owner": "blue", "n": 3.0, "statusCode": 200}
        assert seen == ["GET /owner"]
        https_only = EgressPolicy.parse(["127.0.0.1"])
        assert "plain HTTP to 127.0.0.1 is not allowed" in fails(f"http.Get('{url}')", data(egress=https_only))


def test_global_context_entries_with_projections():
    from verno.core.jmespath import JMESPath
    from verno.core.models.testfile import GlobalContextEntryMock
    from verno.core.registry import Registry

    search = JMESPath(Registry("JMESPath function")).search
    entries = [GlobalContextEntryMock.model_validate(e) for e in (
        {"name": "plain", "data": {"items": [1, 2]}},
        {"name": "proj", "data": {"items": [{"n": "a"}, {"n": "b"}]},
         "projections": [{"name": "names", "path": "items[].n"}]},
        {"name": "objs", "resources": [CM], "fieldPath": "[].metadata.name"},
    )]
    source = data(global_context=global_context_values(entries, search))
    assert run("globalContext.Get('plain')", source) == {"items": [1.0, 2.0]}
    assert run("globalContext.Get('proj', 'names')", source) == ["a", "b"]
    assert run("globalContext.get('objs')", source) == ["registries"]
    assert run("globalContext.Get('unknown') == null", source) is True
    assert "projection 'nope' not found in global context entry 'proj'" in fails("globalContext.Get('proj', 'nope')",
                                                                                 source)


def test_image_metadata_is_served_for_the_exact_reference():
    got = run("image.GetMetadata('ghcr.io/org/app:v1')")
    assert got["resolvedImage"].startswith("ghcr.io/org/app@sha256:") and got["manifest"] == {"schemaVersion": 2.0}
    assert run("image.getMetadata('ghcr.io/org/app:v1').config.config.User") == "1000"
    assert "image data for ghcr.io/org/app:v2 not found in the context" in fails(
        "image.GetMetadata('ghcr.io/org/app:v2')")


def test_each_evaluation_reads_its_own_binding_across_threads():
    program = environment_for("ValidatingPolicy").compile("globalContext.Get('who')")
    results: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        with bound(OfflineCelData(global_context={"who": name})):
            barrier.wait()
            results[name] = [program.evaluate(Activation({})) for _ in range(50)]

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"a": ["a"] * 50, "b": ["b"] * 50}
    with pytest.raises(CELEvaluationError, match="no data source is available"):
        program.evaluate(Activation({}))


def test_context_file_loading(tmp_path):
    path = tmp_path / "context.yaml"
    path.write_text("apiVersion: cli.kyverno.io/v1alpha1\nkind: Context\nmetadata: {name: context}\nspec:\n"
                    "  resources:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: c, namespace: team}\n"
                    "    data: {k: v}\n  images:\n  - image: nginx\n    tag: latest\n")
    source = OfflineCelData.from_context(load_context_file(str(path)))
    assert run("resource.Get('v1', 'configmaps', 'team', 'c').data.k", source) == "v"
    assert run("image.GetMetadata('nginx')", source) == {"image": "nginx", "tag": "latest"}
    path.write_text("apiVersion: cli.kyverno.io/v1alpha1\nkind: Context\nspec:\n  images:\n  - image: nginx\n"
                    "    tags: latest\n")
    with pytest.raises(LoadError, match=r"spec.images\[0\].tags: unknown field \(did you mean tag\?\)"):
        load_context_file(str(path))
    path.write_text("apiVersion: cli.kyverno.io/v1alpha1\nkind: Context\nspec:\n  resources:\n"
                    "  - apiVersion: v1\n    metadata: {name: c}\n")
    with pytest.raises(LoadError, match=r"resources\[0\]\.kind is required"):
        load_context_file(str(path))


def test_objects_without_an_address_are_not_served():
    from verno.core.cel.offline import OfflineCelData

    data = OfflineCelData(resources=[{"kind": "Deployment", "metadata": {"name": "x"}}, "text",
                                     {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d"}}])
    assert data.resource_get("v1", "configmaps", "d", "c")["metadata"]["name"] == "c"
