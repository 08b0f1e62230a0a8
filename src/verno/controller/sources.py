"""``verno.core.sources.ClusterClient`` over the controller's API access (the core's
:class:`~verno.core.kube.datasource.KubeDataSource`): what configMap and apiCall context entries of the rules
the controller evaluates read."""
from __future__ import annotations

from verno.core.kube.datasource import KubeDataSource

__all__ = ["KubeDataSource"]
