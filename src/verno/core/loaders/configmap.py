"""``configMap`` context entries: a ConfigMap's ``data`` and ``metadata``, as Kyverno's loader gives them.

The ConfigMap is read from the cluster, or offline from the objects a Test gives (``clusterResources``,
see :mod:`verno.core.loaders.offline_cluster`). With neither, only a Values file can give the entry's
value; without one the rule errors, saying what to provide. A missing ConfigMap is Kyverno's error.
The namespace defaults to ``default`` (a namespaced Policy's own namespace, which it may not leave).
"""
from __future__ import annotations

from typing import Any

from verno.core.loaders.run import EntryError, Unavailable


def load(settings: dict[str, Any], rc) -> Any:
    resolved = rc.substitute(settings)
    name = str(resolved.get("name") or "")
    own = rc.policy.namespace
    namespace = str(resolved.get("namespace") or own or "default")
    if own and namespace != own:
        raise EntryError(f"context entry {{entry}}: configMap namespace \"{namespace}\" is different from policy "
                         f'namespace "{own}"')
    source = rc.sources.cluster or rc.sources.offline_cluster
    if source is None:
        return Unavailable(f"configMap {namespace}/{name} cannot be read without a cluster: give the ConfigMap in "
                           "the Test's clusterResources, or this entry's value in a Values file")
    cm = source.get_configmap(namespace, name)
    if cm is None:
        raise EntryError(f"failed to retrieve config map for context entry {{entry}}: failed to get configmap "
                         f'{namespace}/{name} : configmaps "{name}" not found')
    return {"data": cm.get("data"), "metadata": cm.get("metadata")}
