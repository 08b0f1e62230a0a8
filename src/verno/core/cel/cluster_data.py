"""The CEL data of a running cluster: ``resource`` functions read through the cluster client the webhook
holds, ``http`` goes through the egress fence, ``image.GetMetadata`` through the registry client.

Without a cluster (``verno serve`` on policy files) the ``resource`` functions fail with a message saying
how to give one; there are no global context entries in a cluster verno serves (``globalContext.Get`` is
``null``, as Kyverno answers for an unknown entry).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from verno.core.cel.library import FunctionError
from verno.core.cel.offline import OfflineCelData
from verno.core.egress import STRICT, EgressPolicy
from verno.core.errors import ContextLoadError
from verno.core.loaders.offline_cluster import guess_resource, resource_path

__all__ = ["ClusterCelData", "resource_path"]


class ClusterCelData:
    """:class:`~verno.core.cel.datasources.CelData` over a :class:`~verno.core.sources.ClusterClient`."""

    def __init__(self, cluster: Any = None, *, egress: EgressPolicy = STRICT, egress_timeout: float = 10.0,
                 registry_client: Any = None):
        self._cluster = cluster
        self._http = OfflineCelData(egress=egress, egress_timeout=egress_timeout, offline=False)
        self._registry = registry_client

    def _client(self, function: str) -> Any:
        if self._cluster is None:
            raise FunctionError(f"{function}: no cluster is available: give one (verno apply --cluster, verno serve "
                                "--kubeconfig or --in-cluster), or run under verno test with the objects in its "
                                "clusterResources or Context file")
        return self._cluster

    def _call(self, function: str, method: str, path: str, body: Any = None) -> Any:
        client = self._client(function)
        try:
            return client.raw_get(path) if method == "GET" else client.raw_post(path, body)
        except ContextLoadError as exc:
            if method == "GET" and "HTTP 404" in str(exc):
                return None
            if "HTTP 403" in str(exc):
                raise FunctionError(f"{function}: permission denied: {exc}") from None
            raise FunctionError(f"{function}: {exc}") from None

    def authorize(self, attributes: Any, extra: Mapping[str, Any]) -> Any:
        """A SubjectAccessReview: the cluster's own authorizers answer."""
        from verno.core.rbac import Decision

        spec: dict[str, Any] = {"user": attributes.user, "groups": list(attributes.groups)}
        for key in ("uid", "extra"):
            if extra.get(key):
                spec[key] = extra[key]
        if attributes.path:
            spec["nonResourceAttributes"] = {"path": attributes.path, "verb": attributes.verb}
        else:
            resource = {"namespace": attributes.namespace, "verb": attributes.verb, "group": attributes.group,
                        "resource": attributes.resource, "subresource": attributes.subresource,
                        "name": attributes.name}
            for key in ("fieldSelector", "labelSelector"):
                if extra.get(key):
                    resource[key] = {"rawSelector": extra[key]}
            spec["resourceAttributes"] = {k: v for k, v in resource.items() if v}
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
        answer = self._call("authorizer.check", "POST",
                            "/apis/authorization.k8s.io/v1/subjectaccessreviews", review) or {}
        status = answer.get("status") or {}
        return Decision(bool(status.get("allowed")), str(status.get("reason") or ""),
                        str(status.get("evaluationError") or ""))

    def resource_get(self, api_version: str, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self._call("resource.Get", "GET", resource_path(api_version, resource, namespace, name))

    def resource_list(self, api_version: str, resource: str, namespace: str,
                      labels: Mapping[str, str] | None) -> dict[str, Any]:
        path = resource_path(api_version, resource, namespace)
        if labels:
            path += "?" + urlencode({"labelSelector": ",".join(f"{k}={v}" for k, v in sorted(labels.items()))})
        found = self._call("resource.List", "GET", path)
        if found is None:
            raise FunctionError(f"resource.List: {resource} ({api_version}) is not served by the cluster")
        return with_item_kinds(found)

    def resource_post(self, api_version: str, resource: str, namespace: str,
                      data: Mapping[str, Any]) -> dict[str, Any]:
        return self._call("resource.Post", "POST", resource_path(api_version, resource, namespace), dict(data))

    def to_gvr(self, api_version: str, kind: str) -> tuple[str, str, str]:
        group, _, version = api_version.rpartition("/")
        return group, version, guess_resource(kind)

    def http_get(self, url: str, headers: Mapping[str, str], ca_bundle: str) -> Any:
        return self._http.http_get(url, headers, ca_bundle)

    def http_post(self, url: str, body: Any, headers: Mapping[str, str], ca_bundle: str) -> Any:
        return self._http.http_post(url, body, headers, ca_bundle)

    def global_context(self, name: str, projection: str) -> Any:
        return None

    def image_metadata(self, image: str) -> dict[str, Any]:
        if self._registry is None:
            raise FunctionError(f"image.GetMetadata({image}): no registry access (verno apply/test --registry)")
        try:
            data = self._registry.image_data(image, None)
        except Exception as exc:  # registry errors become the call's CEL error
            raise FunctionError(f"image.GetMetadata({image}): {exc}") from None
        return dict(data)


def with_item_kinds(listed: Any) -> Any:
    """A list as client-go's ``UnstructuredList`` decodes it: items the server sent without ``apiVersion`` and
    ``kind`` (a typed list omits them) get the list's ``apiVersion`` and its ``kind`` without ``List``."""
    if not isinstance(listed, dict) or not isinstance(listed.get("items"), list):
        return listed
    api_version = listed.get("apiVersion")
    kind = str(listed.get("kind") or "")
    kind = kind[:-4] if kind.endswith("List") else ""
    items = [{**item, **({"apiVersion": api_version} if api_version and not item.get("apiVersion") else {}),
              **({"kind": kind} if kind and not item.get("kind") else {})} if isinstance(item, dict) else item
             for item in listed["items"]]
    return {**listed, "items": items}
