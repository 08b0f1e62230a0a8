"""Named registries filled by the ``verno_register_*`` hooks.

A registry maps a name to what a plugin registered under it, and remembers which plugin did, so a
duplicate becomes a start-up error naming both plugins.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, TypeVar

from verno.core.errors import PluginError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    value: T
    plugin: str
    options: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """What plugins registered for one extension point (operators, functions, loaders, ...)."""

    def __init__(self, what: str, *, case_insensitive: bool = False):
        self.what = what
        self._fold = case_insensitive
        self._entries: dict[str, Entry[T]] = {}

    def _key(self, name: str) -> str:
        return name.lower() if self._fold else name

    def add(self, name: str, value: T, plugin: str, **options: Any) -> None:
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {plugin} registered a {self.what} without a name")
        key = self._key(name)
        if key in self._entries:
            other = self._entries[key].plugin
            raise PluginError(
                f"{self.what} {name!r} is registered by both plugin {other} and plugin {plugin}; "
                f"uninstall one of them or disable it with VERNO_DISABLE_PLUGINS={plugin}"
            )
        self._entries[key] = Entry(name, value, plugin, dict(options))

    def registrar(self, plugin: str) -> Callable[..., None]:
        """The ``register`` callable handed to one plugin's registry hook."""

        def register(name: str, value: T, *args: Any, **options: Any) -> None:
            if args:
                options["args"] = args
            self.add(name, value, plugin, **options)

        return register

    def get(self, name: str) -> Entry[T] | None:
        return self._entries.get(self._key(name))

    def __contains__(self, name: str) -> bool:
        return self._key(name) in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        return [e.name for e in self._entries.values()]

    def by_plugin(self, plugin: str) -> list[str]:
        return [e.name for e in self._entries.values() if e.plugin == plugin]


class CommandRegistry(Registry[T]):
    """A registry whose names are per command (``test:json``, ``apply:json``)."""

    def registrar(self, plugin: str) -> Callable[..., None]:
        def register(name: str, value: T, *, command: str, **options: Any) -> None:
            self.add(f"{command}:{name}", value, plugin, command=command, **options)

        return register

    def for_command(self, command: str) -> dict[str, T]:
        prefix = command + ":"
        return {e.name[len(prefix):]: e.value for e in self if e.name.startswith(prefix)}
