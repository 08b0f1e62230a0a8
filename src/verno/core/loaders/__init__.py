"""Built-in context loaders (a plugin): variable, configMap, apiCall, imageRegistry, globalReference."""
from __future__ import annotations

from verno.core.hookspecs import hookimpl
from verno.core.loaders import apicall, configmap, globalref, imageregistry, variable
from verno.core.loaders.run import SKIP

__all__ = ["SKIP"]


@hookimpl
def verno_register_context_loaders(register):
    register("variable", variable.load)
    register("configMap", configmap.load)
    register("apiCall", apicall.load)
    register("imageRegistry", imageregistry.load)
    register("globalReference", globalref.load)
