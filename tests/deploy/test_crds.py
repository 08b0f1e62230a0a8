"""The chart's CRDs: valid CustomResourceDefinitions with structural schemas that accept real Kyverno
policies and exceptions (the repository's examples and test data, and Kyverno's own CLI suites when
the shared conformance corpus is present) and reject malformed ones."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "deploy" / "helm" / "verno" / "crds"
CORPORA = [ROOT / "examples", ROOT / "tests" / "data", ROOT.parent / "shared" / "conformance" / "kyverno-cli"]


def _crds(group: str) -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(CRDS.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        if doc["spec"]["group"] == group:
            out[doc["spec"]["names"]["kind"]] = doc
    return out


CRD_BY_KIND = _crds("kyverno.io")
CEL_CRD_BY_KIND = _crds("policies.kyverno.io")


def _schema(kind: str, version: str) -> dict[str, Any] | None:
    for v in CRD_BY_KIND[kind]["spec"]["versions"]:
        if v["name"] == version and v["served"]:
            return v["schema"]["openAPIV3Schema"]
    return None


def _walk(schema: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from _walk(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from _walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _walk(schema["additionalProperties"], f"{path}{{}}")


def test_the_kinds(validate):
    assert set(CRD_BY_KIND) == {"ClusterPolicy", "Policy", "PolicyException", "UpdateRequest"}
    validate(list(CRD_BY_KIND.values()))
    scopes = {k: d["spec"]["scope"] for k, d in CRD_BY_KIND.items()}
    assert scopes == {"ClusterPolicy": "Cluster", "Policy": "Namespaced", "PolicyException": "Namespaced",
                      "UpdateRequest": "Namespaced"}
    for kind, doc in CRD_BY_KIND.items():
        assert doc["metadata"]["name"] == f"{doc['spec']['names']['plural']}.kyverno.io"
        assert doc["spec"]["group"] == "kyverno.io"
        storage = [v["name"] for v in doc["spec"]["versions"] if v["storage"]]
        assert storage == (["v2"] if kind in ("PolicyException", "UpdateRequest") else ["v1"])


@pytest.mark.parametrize("crd", [*CRD_BY_KIND.values(), *CEL_CRD_BY_KIND.values()],
                         ids=lambda d: d["metadata"]["name"])
def test_schemas_are_structural(crd):
    """Kubernetes requires a type on every node unless it preserves unknown fields, and no
    preserve-unknown-fields node may also be given a non-object type."""
    kind = crd["spec"]["names"]["kind"]
    for version in crd["spec"]["versions"]:
        root = version["schema"]["openAPIV3Schema"]
        assert root["type"] == "object"
        for path, node in _walk(root, version["name"]):
            preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
            assert "type" in node or preserve, f"{kind} {path}: no type"
            if preserve and "type" in node:
                assert node["type"] == "object", f"{kind} {path}"
            for key in ("$ref", "additionalItems", "patternProperties", "dependencies", "definitions", "id"):
                assert key not in node, f"{kind} {path}: {key} is not allowed in a CRD schema"
            if "additionalProperties" in node:
                assert "properties" not in node, f"{kind} {path}: properties and additionalProperties"


def _documents() -> Iterator[tuple[str, dict[str, Any]]]:
    for corpus in CORPORA:
        if not corpus.is_dir():
            continue
        for path in sorted(corpus.rglob("*.y*ml")):
            try:
                docs = list(yaml.safe_load_all(path.read_text()))
            except (yaml.YAMLError, UnicodeDecodeError):
                continue
            for i, doc in enumerate(docs):
                if (isinstance(doc, dict) and doc.get("kind") in CRD_BY_KIND
                        and str(doc.get("apiVersion", "")).startswith("kyverno.io/")):
                    yield f"{path.relative_to(corpus.parent)}#{i + 1}", doc


def test_real_policies_and_exceptions_are_accepted():
    from verno.core.errors import VernoError
    from verno.core.loading import Document, validate_model
    from verno.core.models.exception import PolicyException
    from verno.core.models.policy import Policy

    checked: dict[str, int] = {}
    rejected = []
    for where, doc in _documents():
        kind, version = doc["kind"], doc["apiVersion"].split("/", 1)[1]
        schema = _schema(kind, version)
        model = PolicyException if kind == "PolicyException" else Policy
        try:  # only documents verno itself accepts: the corpora hold deliberately broken ones too
            validate_model(model, Document(where, 0, doc))
        except VernoError:
            continue
        assert schema is not None, f"{where}: {kind} {version} is not served by the CRD"
        try:
            jsonschema.validate(doc, schema)
        except jsonschema.ValidationError as exc:
            rejected.append(f"{where}: {exc.message} at {list(exc.absolute_path)}")
        checked[kind] = checked.get(kind, 0) + 1
    assert not rejected, "\n".join(rejected[:20])
    assert checked.get("ClusterPolicy", 0) >= 4 and checked.get("PolicyException", 0) >= 1, checked


@pytest.mark.parametrize("patch, message", [
    ({"spec": {"validationFailureAction": "Block", "rules": []}}, "'Block' is not one of"),
    ({"spec": {"rules": [{"validate": {}}]}}, "'name' is a required property"),
    ({"spec": {"rules": [{"name": "x" * 64}]}}, "is too long"),
    ({"spec": {"webhookConfiguration": {"timeoutSeconds": 31}, "rules": []}}, "greater than the maximum"),
    ({"spec": {"webhookConfiguration": {"matchConditions": [{"name": "a"}]}, "rules": []}},
     "'expression' is a required property"),
    ({"spec": {"background": "yes", "rules": []}}, "is not of type 'boolean'"),
])
def test_malformed_policies_are_rejected(patch, message):
    doc = {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"}, **patch}
    with pytest.raises(jsonschema.ValidationError, match=message):
        jsonschema.validate(doc, _schema("ClusterPolicy", "v1"))


def test_malformed_exception_is_rejected():
    doc = {"apiVersion": "kyverno.io/v2", "kind": "PolicyException", "metadata": {"name": "e"},
           "spec": {"exceptions": [{"policyName": "p"}], "match": {}}}
    with pytest.raises(jsonschema.ValidationError, match="'ruleNames' is a required property"):
        jsonschema.validate(doc, _schema("PolicyException", "v2"))


def test_the_cel_kinds(validate):
    assert set(CEL_CRD_BY_KIND) == {"ValidatingPolicy", "NamespacedValidatingPolicy", "PolicyException",
                                    "DeletingPolicy", "NamespacedDeletingPolicy", "GeneratingPolicy",
                                    "NamespacedGeneratingPolicy", "MutatingPolicy", "NamespacedMutatingPolicy",
                                    "ImageValidatingPolicy", "NamespacedImageValidatingPolicy"}
    validate(list(CEL_CRD_BY_KIND.values()))
    scopes = {k: d["spec"]["scope"] for k, d in CEL_CRD_BY_KIND.items()}
    assert scopes == {"ValidatingPolicy": "Cluster", "NamespacedValidatingPolicy": "Namespaced",
                      "PolicyException": "Namespaced", "DeletingPolicy": "Cluster",
                      "NamespacedDeletingPolicy": "Namespaced", "GeneratingPolicy": "Cluster",
                      "NamespacedGeneratingPolicy": "Namespaced", "MutatingPolicy": "Cluster",
                      "NamespacedMutatingPolicy": "Namespaced", "ImageValidatingPolicy": "Cluster",
                      "NamespacedImageValidatingPolicy": "Namespaced"}
    for kind, doc in CEL_CRD_BY_KIND.items():
        # Kyverno serves NamespacedGeneratingPolicy from v1beta1 on
        served = ["v1", "v1beta1"] if kind == "NamespacedGeneratingPolicy" else ["v1", "v1beta1", "v1alpha1"]
        assert [v["name"] for v in doc["spec"]["versions"] if v["served"]] == served
        assert [v["name"] for v in doc["spec"]["versions"] if v["storage"]] == ["v1"]


def _cel_schema(kind: str, version: str) -> dict[str, Any] | None:
    for v in CEL_CRD_BY_KIND[kind]["spec"]["versions"]:
        if v["name"] == version and v["served"]:
            return v["schema"]["openAPIV3Schema"]
    return None


def test_real_cel_policies_and_exceptions_are_accepted():
    checked: dict[str, int] = {}
    rejected = []
    for corpus in CORPORA:
        for path in sorted(corpus.rglob("*.y*ml")) if corpus.is_dir() else ():
            try:
                docs = list(yaml.safe_load_all(path.read_text()))
            except (yaml.YAMLError, UnicodeDecodeError):
                continue
            for doc in docs:
                if not (isinstance(doc, dict) and doc.get("kind") in CEL_CRD_BY_KIND
                        and str(doc.get("apiVersion", "")).startswith("policies.kyverno.io/")):
                    continue
                schema = _cel_schema(doc["kind"], doc["apiVersion"].split("/", 1)[1])
                try:
                    jsonschema.validate(doc, schema)
                except jsonschema.ValidationError as exc:
                    rejected.append(f"{path}: {exc.message} at {list(exc.absolute_path)}")
                checked[doc["kind"]] = checked.get(doc["kind"], 0) + 1
    assert not rejected, "\n".join(rejected[:20])
    if (ROOT.parent / "shared").is_dir():
        assert checked.get("ValidatingPolicy", 0) >= 20, checked


@pytest.mark.parametrize("spec, message", [
    ({"validationActions": ["Block"]}, "'Block' is not one of"),
    ({"validations": [{"message": "m"}]}, "'expression' is a required property"),
    ({"webhookConfiguration": {"timeoutSeconds": 0}}, "less than the minimum"),
    ({"failurePolicy": "Allow"}, "'Allow' is not one of"),
])
def test_malformed_validating_policies_are_rejected(spec, message):
    doc = {"apiVersion": "policies.kyverno.io/v1", "kind": "ValidatingPolicy", "metadata": {"name": "p"},
           "spec": spec}
    with pytest.raises(jsonschema.ValidationError, match=message):
        jsonschema.validate(doc, _cel_schema("ValidatingPolicy", "v1"))
