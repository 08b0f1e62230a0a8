"""kubectl (as a subprocess) against the stand-in: get, create, apply, patch, label, delete, CRDs by short name,
error output."""
from __future__ import annotations

import json

CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {plural: gadgets, singular: gadget, kind: Gadget, shortNames: [gd]}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
    additionalPrinterColumns:
    - {name: Color, type: string, jsonPath: .spec.color}
"""

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: app, image: IMAGE}
      - {name: sidecar, image: "proxy:1"}
"""


def test_get_create_label_delete(kubectl):
    assert kubectl("get", "namespaces", "-o", "name").stdout.split() == [
        "namespace/default", "namespace/kube-node-lease", "namespace/kube-public", "namespace/kube-system"]
    assert kubectl("create", "configmap", "one", "--from-literal=a=b").stdout == "configmap/one created\n"
    assert kubectl("label", "cm", "one", "tier=web").stdout == "configmap/one labeled\n"
    table = kubectl("get", "cm", "-l", "tier=web").stdout.splitlines()
    assert table[0].split() == ["NAME", "AGE"] and table[1].split()[0] == "one"
    assert kubectl("get", "cm", "-l", "tier=db").stderr == "No resources found in default namespace.\n"
    got = json.loads(kubectl("get", "cm", "one", "-o", "json").stdout)
    assert got["data"] == {"a": "b"} and got["metadata"]["labels"] == {"tier": "web"}
    dup = kubectl("create", "configmap", "one", check=False)
    assert dup.returncode == 1
    assert 'configmaps "one" already exists' in dup.stderr  # kubectl's wrapping varies by version
    assert kubectl("delete", "cm", "one").stdout == 'configmap "one" deleted\n'
    missing = kubectl("get", "cm", "one", check=False)
    assert missing.stderr == 'Error from server (NotFound): configmaps "one" not found\n'
    unknown = kubectl("get", "nosuchthings", check=False)
    assert unknown.stderr.strip().endswith('error: the server doesn\'t have a resource type "nosuchthings"')


def test_apply_twice_and_patch(kubectl):
    first = DEPLOYMENT.replace("REPLICAS", "1").replace("IMAGE", "app:1")
    assert kubectl("apply", "--validate=false", "-f", "-", input=first).stdout == "deployment.apps/web created\n"
    second = DEPLOYMENT.replace("REPLICAS", "3").replace("IMAGE", "app:2")
    assert kubectl("apply", "--validate=false", "-f", "-", input=second).stdout == "deployment.apps/web configured\n"
    dep = json.loads(kubectl("get", "deploy", "web", "-o", "json").stdout)
    assert dep["spec"]["replicas"] == 3 and dep["metadata"]["generation"] == 2
    assert [(c["name"], c["image"]) for c in dep["spec"]["template"]["spec"]["containers"]] == [
        ("app", "app:2"), ("sidecar", "proxy:1")]
    kubectl("patch", "deploy", "web", "-p", '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar",'
                                            '"image":"proxy:2"}]}}}}')
    kubectl("patch", "deploy", "web", "--type=merge", "-p", '{"metadata":{"annotations":{"a":"b"}}}')
    kubectl("patch", "deploy", "web", "--type=json", "-p", '[{"op":"replace","path":"/spec/replicas","value":2}]')
    images = kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[*].image} "
                     "{.spec.replicas} {.metadata.annotations.a}").stdout
    assert images == "app:2 proxy:2 2 b"
    failed = kubectl("patch", "deploy", "web", "--type=json", "-p",
                     '[{"op":"test","path":"/spec/replicas","value":9}]', check=False)
    assert failed.returncode == 1 and "The request is invalid" in failed.stderr
    assert kubectl("delete", "-f", "-", input=second).stdout == 'deployment.apps "web" deleted\n'


def test_crd_by_short_name_with_printer_columns(kubectl, apiserver):
    kubectl("apply", "--validate=false", "-f", "-", input=CRD)
    kubectl("wait", "--for=condition=established", "crd/gadgets.example.com", "--timeout=5s")
    gadget = "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g1}\nspec: {color: red}\n"
    assert kubectl("apply", "--validate=false", "-f", "-", input=gadget).stdout == "gadget.example.com/g1 created\n"
    assert kubectl("get", "gd").stdout.split() == ["NAME", "COLOR", "g1", "red"]
    kubectl("patch", "gd", "g1", "--type=merge", "-p", '{"spec":{"color":"blue"}}')
    assert kubectl("get", "gadget", "g1", "-o", "jsonpath={.spec.color}").stdout == "blue"
    smp = kubectl("patch", "gd", "g1", "-p", '{"spec":{"color":"green"}}', check=False)
    assert smp.returncode == 1 and "the body of the request was in an unknown format" in smp.stderr  # the 415
    kubectl("delete", "crd", "gadgets.example.com")
    apiserver.wait_idle()
    assert kubectl("get", "gadgets.example.com", check=False).returncode == 1
