"""``variable`` context entries: a value, a JMESPath over the context or over that value, a default."""
from __future__ import annotations

from typing import Any

from verno.core.errors import ContextLoadError, VernoError
from verno.core.loaders.run import apply_jmespath


def load(settings: dict[str, Any], rc) -> Any:
    path = settings.get("jmesPath") or ""
    default = settings.get("default")
    if default is not None:
        default = rc.substitute(default)
    output = default
    if "value" in settings and settings["value"] is not None:
        value = rc.substitute(settings["value"])
        if path:
            try:
                result = apply_jmespath(rc, path, value)
            except VernoError as exc:
                if default is None:
                    raise ContextLoadError(f"failed to apply jmespath {path} to variable {value!r}: {exc}") from None
            else:
                output = result if result is not None else default
        else:
            output = value
    elif path:
        try:
            substituted = rc.substitute(path)
            result = rc.query(substituted)
        except VernoError as exc:
            if default is None:
                raise ContextLoadError(f"failed to apply jmespath {path}: {exc}") from None
        else:
            output = result if result is not None else default
    if output is None:
        raise ContextLoadError("unable to add context entry for variable since it evaluated to nil")
    return output
