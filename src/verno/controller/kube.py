"""The controller's API access: the core's REST client over the official ``kubernetes`` ``ApiClient``
(:mod:`verno.core.kube.rest`: discovery, get/list/create/replace/delete, watch streams, typed failures)."""
from __future__ import annotations

from verno.core.kube.rest import APIError, ClusterConfigError, Kube, Resource, api_client

__all__ = ["APIError", "ClusterConfigError", "Kube", "Resource", "api_client"]
