"""``kubernetes.utils.parse_quantity`` without importing the whole Kubernetes client.

``import kubernetes.utils`` runs the package's ``__init__``, which imports the generated API client and
the kubeconfig loader: about 0.6 s on every ``verno`` start. The quantity parser is a self-contained
module of that package, so it is loaded from the installed distribution on its own.
"""
from __future__ import annotations

import importlib.util
import sys
from decimal import Decimal
from typing import Callable


def _load() -> Callable[[object], Decimal]:
    loaded = sys.modules.get("kubernetes.utils.quantity")
    if loaded is not None:
        return loaded.parse_quantity
    spec = importlib.util.find_spec("kubernetes")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for base in locations:
        path = f"{base}/utils/quantity.py"
        qspec = importlib.util.spec_from_file_location("verno._kubernetes_quantity", path)
        if qspec is None or qspec.loader is None:
            continue
        module = importlib.util.module_from_spec(qspec)
        try:
            qspec.loader.exec_module(module)
        except (FileNotFoundError, ImportError):
            continue
        return module.parse_quantity
    from kubernetes.utils import parse_quantity  # the slow, always-correct way

    return parse_quantity


parse_quantity = _load()
