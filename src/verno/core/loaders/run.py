"""Loading a rule's ``context`` entries, in order, through the context-loader registry."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from verno.core.errors import ContextLoadError, PluginFailure, VernoError

if TYPE_CHECKING:  # pragma: no cover
    from verno.core.models.context import ContextEntry
    from verno.core.pipeline import RuleContext


class _Skip:
    """Returned by a loader whose source is unavailable here; the entry keeps any Values-file value."""

    def __repr__(self) -> str:
        return "SKIP"


SKIP: Any = _Skip()


def entry_settings(entry: ContextEntry, key: str) -> dict[str, Any]:
    """The entry's settings for loader ``key`` as written (camelCase keys, variables unresolved)."""
    extra = entry.model_extra or {}
    if key in extra:
        return extra[key]
    return entry.model_dump(by_alias=True, exclude_unset=True)[key]


def load_entries(entries: list[ContextEntry], rc: RuleContext) -> None:
    for entry in entries:
        key = entry.source_key()
        if key is None:
            raise ContextLoadError(f"context entry {entry.name!r} has no source (variable, configMap, apiCall, ...)")
        registered = rc.engine.loaders.get(key)
        if registered is None:
            raise ContextLoadError(f"context entry {entry.name!r}: no loader for {key!r}; install its plugin")
        try:
            value = registered.value(entry_settings(entry, key), rc)
        except ContextLoadError:
            raise
        except VernoError as exc:
            raise ContextLoadError(f"context entry {entry.name!r}: {exc}") from None
        except Exception as exc:  # a plugin's loader: the rule errors, naming the plugin
            failure = PluginFailure(registered.plugin, f"context loader {key}", exc)
            raise ContextLoadError(f"context entry {entry.name!r}: {failure}") from exc
        if value is SKIP:
            continue
        store(rc, entry.name, value)


def store(rc: RuleContext, name: str, value: Any) -> None:
    if "." in name:
        rc.context.add_variable(name, value)
    else:
        rc.context.set(name, value)


def apply_jmespath(rc: RuleContext, expression: str, data: Any) -> Any:
    """Evaluate ``expression`` (variables substituted first) against ``data``."""
    path = rc.substitute(expression)
    if not isinstance(path, str):
        raise ContextLoadError(f"jmesPath must be a string, got {path!r}")
    return rc.engine.jmespath.search(path, data)
