"""Reading a Test's clusterResources files: the ClusterResource wrapper, plain objects, CRD files."""
from __future__ import annotations

import pytest

from verno.core.errors import LoadError
from verno.core.loaders.cluster_resources import read_cluster_resources
from verno.core.loaders.offline_cluster import OfflineCluster

WRAPPER = """apiVersion: cli.kyverno.io/v1alpha1
kind: ClusterResource
metadata:
  name: cluster
spec:
  crds:
  - crds/gadget.yaml
  resources:
  - apiVersion: example.com/v1
    kind: Gadget
    metadata:
      name: g1
  - apiVersion: v1
    kind: List
    items:
    - apiVersion: v1
      kind: Namespace
      metadata:
        name: shop
"""

CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgetry.example.com
spec:
  group: example.com
  scope: Cluster
  names:
    kind: Gadget
    plural: gadgetry
  versions:
  - name: v1
    served: true
    storage: true
"""


def test_wrapper_gives_its_resources_and_crds(tmp_path):
    (tmp_path / "crds").mkdir()
    (tmp_path / "crds" / "gadget.yaml").write_text(CRD)
    (tmp_path / "cluster.yaml").write_text(WRAPPER)
    read = read_cluster_resources([str(tmp_path / "cluster.yaml")], str(tmp_path))
    assert [o["kind"] for o in read.objects] == ["Gadget", "Namespace", "CustomResourceDefinition"]
    assert read.notices == []
    cluster = OfflineCluster(read.objects, read.crds)
    assert cluster.raw_get("/apis/example.com/v1/gadgetry/g1")["metadata"]["name"] == "g1"
    assert cluster.raw_get("/api/v1/namespaces/shop")["kind"] == "Namespace"


def test_missing_crd_file_is_a_notice_and_kinds_are_guessed(tmp_path):
    (tmp_path / "cluster.yaml").write_text(WRAPPER)
    read = read_cluster_resources([str(tmp_path / "cluster.yaml")], str(tmp_path))
    assert len(read.notices) == 1 and "spec.crds[0]: CRD file" in read.notices[0] and "not found" in read.notices[0]
    cluster = OfflineCluster(read.objects, read.crds)
    assert cluster.raw_get("/apis/example.com/v1/gadgets/g1")["metadata"]["name"] == "g1"


def test_plain_objects_are_cluster_resources_too(tmp_path):
    (tmp_path / "objs.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\n"
                                        "---\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\n---\n"
                                        "apiVersion: services.example.com/v1\nkind: ClusterResource\n"
                                        "metadata: {name: c}\nspec: {anything: 1}\n")
    read = read_cluster_resources([str(tmp_path / "objs.yaml")], str(tmp_path))
    assert [o["kind"] for o in read.objects] == ["ConfigMap", "Secret", "ClusterResource"]


@pytest.mark.parametrize("text, field", [
    ("apiVersion: cli.kyverno.io/v1beta9\nkind: ClusterResource\nspec: {}\n", "apiVersion"),
    ("apiVersion: cli.kyverno.io/v1alpha1\nkind: ClusterResource\nspec: [1]\n", "spec"),
    ("apiVersion: cli.kyverno.io/v1alpha1\nkind: ClusterResource\nspec: {objects: []}\n", "spec.objects"),
    ("apiVersion: cli.kyverno.io/v1alpha1\nkind: ClusterResource\nspec: {crds: [1]}\n", "spec.crds"),
    ("apiVersion: cli.kyverno.io/v1alpha1\nkind: ClusterResource\nspec: {resources: {a: 1}}\n", "spec.resources"),
    ("apiVersion: cli.kyverno.io/v1alpha1\nkind: ClusterResource\nspec: {resources: [{kind: Pod}]}\n",
     "spec.resources[0].apiVersion"),
    ("apiVersion: cli.kyverno.io/v1alpha1\nkind: ClusterResource\nspec: {resources: [x]}\n", "spec.resources[0]"),
    ("kind: ConfigMap\nmetadata: {name: a}\n", "apiVersion"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: [a]\n", "metadata"),
])
def test_unreadable_documents_are_errors_naming_the_field(tmp_path, text, field):
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(LoadError) as exc:
        read_cluster_resources([str(tmp_path / "bad.yaml")], str(tmp_path))
    assert exc.value.field == field
    assert exc.value.source == str(tmp_path / "bad.yaml")


def test_a_crd_file_holding_something_else_is_an_error(tmp_path):
    (tmp_path / "crds").mkdir()
    (tmp_path / "crds" / "gadget.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    (tmp_path / "cluster.yaml").write_text(WRAPPER)
    with pytest.raises(LoadError, match="expected a CustomResourceDefinition"):
        read_cluster_resources([str(tmp_path / "cluster.yaml")], str(tmp_path))


def test_a_directory_is_read_file_by_file(tmp_path):
    (tmp_path / "objs").mkdir()
    (tmp_path / "objs" / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\n")
    (tmp_path / "objs" / "b.yaml").write_text(WRAPPER.replace("  crds:\n  - crds/gadget.yaml\n", ""))
    read = read_cluster_resources([str(tmp_path / "objs")], str(tmp_path))
    assert [o["metadata"]["name"] for o in read.objects] == ["a", "g1", "shop"]
