"""Loading a rule's ``context`` entries, in order, through the context-loader registry."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from verno.core.context import split_path
from verno.core.errors import ContextLoadError, PluginFailure, VernoError

if TYPE_CHECKING:  # pragma: no cover
    from verno.core.models.context import ContextEntry
    from verno.core.pipeline import RuleContext


class _Skip:
    """Returned by a loader whose source is unavailable here; the entry keeps any Values-file value."""

    def __repr__(self) -> str:
        return "SKIP"


SKIP: Any = _Skip()


@dataclass(frozen=True)
class Unavailable:
    """Returned by a loader whose data cannot be had here (no cluster, no mock).

    A value a Values file gave the entry stands; otherwise ``fallback`` (an ``apiCall`` ``default``)
    when there is one; otherwise the rule errors with ``need``, which says what to provide.
    """

    need: str
    fallback: Any = None


class EntryError(ContextLoadError):
    """A loader failure whose message names its entry: ``{entry}`` in the message is the entry's name."""


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
        except EntryError as exc:
            raise ContextLoadError(str(exc).replace("{entry}", entry.name)) from None
        except ContextLoadError:
            raise
        except VernoError as exc:
            raise ContextLoadError(f"context entry {entry.name!r}: {exc}") from None
        except Exception as exc:  # a plugin's loader: the rule errors, naming the plugin
            failure = PluginFailure(registered.plugin, f"context loader {key}", exc)
            raise ContextLoadError(f"context entry {entry.name!r}: {failure}") from exc
        if value is SKIP:
            continue
        if isinstance(value, Unavailable):
            if _has_value(rc.context.data, entry.name):
                continue  # a Values file gave it
            if value.fallback is None:
                raise ContextLoadError(f"context entry {entry.name!r}: {value.need}")
            value = value.fallback
        store(rc, entry.name, value)


def _has_value(data: dict[str, Any], name: str) -> bool:
    node: Any = data
    for part in split_path(name):
        if not isinstance(node, dict) or node.get(part) is None:
            return False
        node = node[part]
    return True


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
