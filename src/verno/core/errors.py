"""Exceptions the core raises. Every user-facing error renders as one line."""
from __future__ import annotations


class VernoError(Exception):
    """Base class of every error verno reports to a user (CLI exit code 1, never a traceback)."""


class LoadError(VernoError):
    """A file could not be read or a document in it is invalid.

    ``source`` is the file name (or ``-`` for stdin), ``document`` the 0-based document index inside the
    file (None when the whole file failed), ``field`` a dotted path to the offending field.
    """

    def __init__(self, source: str, message: str, *, document: int | None = None, field: str = ""):
        self.source = source
        self.document = document
        self.field = field
        self.message = message
        where = source
        if document is not None:
            where += f" (document {document + 1})"
        if field:
            where += f": {field}"
        super().__init__(f"{where}: {message}")


class PluginError(VernoError):
    """Plugins are inconsistent: a duplicate registration, a missing handler, a bad hook result."""


class NotFoundError(VernoError):
    """A JMESPath field lookup found no such key (Kyverno: ``Unknown key "x" in path``)."""

    def __init__(self, key: str):
        self.key = key
        super().__init__(f'Unknown key "{key}" in path')


class ArtifactNotFound(VernoError):
    """A registry has no such manifest, tag or blob (the registry client's ``NotFound`` is one)."""


class JMESPathError(VernoError):
    """A JMESPath expression failed to compile or evaluate."""


class SubstitutionError(VernoError):
    """A ``{{ }}`` variable could not be resolved."""


class ContextLoadError(VernoError):
    """A rule ``context`` entry failed to load."""


class ConditionError(VernoError):
    """A condition is invalid (unknown operator, bad operand type)."""


class PluginFailure(VernoError):
    """Code a plugin registered (a rule handler, operator, function, loader, checker) raised.

    The rule it was evaluating reports ``error`` with this message, naming the plugin; the run goes on.
    """

    def __init__(self, plugin: str, what: str, exc: BaseException):
        self.plugin = plugin
        self.what = what
        detail = " ".join(str(exc).split())
        super().__init__(f"plugin {plugin}: {what} raised {type(exc).__name__}" + (f": {detail}" if detail else ""))
