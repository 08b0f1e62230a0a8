"""A Test's ``clusterResources`` files: the objects (and CRDs) of the cluster it describes offline.

A ``ClusterResource`` document (``cli.kyverno.io/v1alpha1``, the wrapper Kyverno's CLI reads these files
as) gives ``spec.resources``, the objects, and ``spec.crds``, CRD files (paths relative to the Test's
folder) that name the resources of custom kinds. Any other document is an object itself (a ``List``
stands for its items). A CRD file that is not there is a notice, not an error: without it a custom kind's
resource name is guessed from the kind, as Kubernetes guesses it, and a lookup it gets wrong fails as
``not found`` rather than passing.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from verno.core.errors import LoadError
from verno.core.loading import Document, flatten_lists, iter_file_documents, iter_path_documents

WRAPPER_KIND = "ClusterResource"
WRAPPER_API_VERSION = "cli.kyverno.io/v1alpha1"
_SPEC_FIELDS = ("crds", "resources")


@dataclass
class ClusterResources:
    objects: list[dict[str, Any]] = field(default_factory=list)
    crds: list[dict[str, Any]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def read_cluster_resources(paths: Iterable[str], test_dir: str) -> ClusterResources:
    out = ClusterResources()
    for doc in iter_path_documents(paths):
        if doc.data is None:
            continue
        if isinstance(doc.data, dict) and doc.data.get("kind") == WRAPPER_KIND \
                and str(doc.data.get("apiVersion") or "").startswith("cli.kyverno.io/"):
            _read_wrapper(doc, test_dir, out)
        else:
            out.objects.extend(_objects(doc, ""))
    return out


def _read_wrapper(doc: Document, test_dir: str, out: ClusterResources) -> None:
    data = doc.data
    if data.get("apiVersion") != WRAPPER_API_VERSION:
        raise LoadError(doc.source, f"a ClusterResource needs apiVersion: {WRAPPER_API_VERSION}, "
                                    f"got {data.get('apiVersion')!r}", document=doc.index, field="apiVersion")
    spec = data.get("spec")
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise LoadError(doc.source, "spec must be a mapping", document=doc.index, field="spec")
    for key in spec:
        if key not in _SPEC_FIELDS:
            raise LoadError(doc.source, f"unknown field (a ClusterResource spec has {', '.join(_SPEC_FIELDS)})",
                            document=doc.index, field=f"spec.{key}")
    crds = spec.get("crds") or []
    resources = spec.get("resources") or []
    if not isinstance(crds, list) or not all(isinstance(c, str) for c in crds):
        raise LoadError(doc.source, "crds must be a list of file paths", document=doc.index, field="spec.crds")
    if not isinstance(resources, list):
        raise LoadError(doc.source, "resources must be a list of objects", document=doc.index,
                        field="spec.resources")
    for i, item in enumerate(resources):
        out.objects.extend(_objects(Document(doc.source, doc.index, item), f"spec.resources[{i}]"))
    for i, rel in enumerate(crds):
        path = rel if os.path.isabs(rel) else os.path.join(test_dir, rel)
        if not os.path.isfile(path):
            out.notices.append(f"{doc.where}: spec.crds[{i}]: CRD file {path} not found; the resource names of "
                               "its kinds are guessed from the kinds (ComputeClass -> computeclasses)")
            continue
        for crd_doc in iter_file_documents(path):
            if crd_doc.data is None:
                continue
            crd = _crd(crd_doc)
            out.crds.append(crd)
            out.objects.append(crd)


def _objects(doc: Document, where: str) -> Iterator[dict[str, Any]]:
    for item in flatten_lists(doc):
        data = item.data
        prefix = f"{where}." if where else ""
        if not isinstance(data, dict):
            raise LoadError(item.source, f"expected a Kubernetes object, got {type(data).__name__}",
                            document=item.index, field=where)
        for key in ("apiVersion", "kind"):
            if not data.get(key) or not isinstance(data[key], str):
                raise LoadError(item.source, f"a cluster resource needs a {key}", document=item.index,
                                field=prefix + key)
        if not isinstance(data.get("metadata") or {}, dict):
            raise LoadError(item.source, "metadata must be a mapping", document=item.index, field=prefix + "metadata")
        yield data


def _crd(doc: Document) -> dict[str, Any]:
    data = doc.data
    if not isinstance(data, dict) or data.get("kind") != "CustomResourceDefinition":
        raise LoadError(doc.source, "expected a CustomResourceDefinition", document=doc.index, field="kind")
    spec = data.get("spec")
    names = spec.get("names") if isinstance(spec, dict) else None
    for key, value in (("spec.group", spec.get("group") if isinstance(spec, dict) else None),
                       ("spec.names.kind", names.get("kind") if isinstance(names, dict) else None),
                       ("spec.names.plural", names.get("plural") if isinstance(names, dict) else None)):
        if not value or not isinstance(value, str):
            raise LoadError(doc.source, "a CustomResourceDefinition needs this field", document=doc.index, field=key)
    return data
