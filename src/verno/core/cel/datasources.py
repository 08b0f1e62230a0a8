"""What Kyverno's data libraries read, and how one evaluation is given it.

The ``resource``, ``http``, ``globalContext`` and ``image.GetMetadata`` functions (:mod:`verno.core.cel.libs.
kyverno_data`) read through a :class:`CelData` bound to the evaluation with :func:`bound`::

    with bound(data, namespace=policy_namespace):
        activation.evaluate(program)

The binding is a :class:`~contextvars.ContextVar`: the C++ runtime calls Python functions synchronously in
the evaluating thread, so concurrent evaluations (webhook threads) each see their own data. A namespaced
policy (NamespacedValidatingPolicy ...) passes its namespace: the namespaced ``resource`` functions read
only there, as Kyverno pins them. An evaluation with nothing bound fails the call, naming the function.

Implementations: :class:`~verno.core.cel.offline.OfflineCelData` (what a ``kyverno test`` Test gives:
a ``cli.kyverno.io`` Context file, ``apiCallResponses``, ``globalContextEntries``); an online one over a
cluster client fits the same protocol. A method signals a CEL error by raising
:class:`~verno.core.cel.library.FunctionError` with the message the policy author should see.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from verno.core.cel.library import FunctionError

__all__ = ["Binding", "CelData", "bound", "current"]


class CelData(Protocol):
    """The data one evaluation's library calls read. ``api_version`` is ``v1`` or ``group/version``;
    ``resource`` is the plural resource name (``configmaps``); ``namespace`` ``""`` is cluster-wide."""

    def resource_get(self, api_version: str, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The object, or None when it does not exist (CEL ``null``)."""

    def resource_list(self, api_version: str, resource: str, namespace: str,
                      labels: Mapping[str, str] | None) -> dict[str, Any]:
        """A List object ``{apiVersion, kind, metadata, items}``, narrowed by ``labels`` when given."""

    def resource_post(self, api_version: str, resource: str, namespace: str,
                      data: Mapping[str, Any]) -> dict[str, Any]:
        """The created object (a SubjectAccessReview answers with its status)."""

    def to_gvr(self, api_version: str, kind: str) -> tuple[str, str, str]:
        """(group, version, resource) of a kind, by the cluster's REST mapping."""

    def http_get(self, url: str, headers: Mapping[str, str], ca_bundle: str) -> Any:
        """What ``http.Get`` returns. ``ca_bundle`` (PEM) is ``""`` unless the call came through
        ``http.Client(caBundle)``."""

    def http_post(self, url: str, body: Any, headers: Mapping[str, str], ca_bundle: str) -> Any:
        """What ``http.Post`` returns; ``body`` is sent JSON-encoded."""

    def global_context(self, name: str, projection: str) -> Any:
        """A global context entry's value (``projection`` ``""``: the whole value); None when there is no
        such entry."""

    def authorize(self, attributes: Any, extra: Mapping[str, Any]) -> Any:
        """``authorizer.….check(verb)``: a :class:`verno.core.rbac.Decision` for the
        :class:`verno.core.rbac.Attributes` asked (``extra``: the user's ``uid`` and ``extra``, a resource
        check's ``fieldSelector`` and ``labelSelector``, when set). Optional: a data source without it
        answers every check with an errored decision."""

    def image_metadata(self, image: str) -> dict[str, Any]:
        """``image.GetMetadata(image)``: ``{image, resolvedImage, registry, repository, identifier, tag,
        digest, imageIndex, manifest, config}``."""


@dataclass(frozen=True)
class Binding:
    data: CelData
    #: the namespace of a namespaced policy ("" for a cluster-scoped one)
    namespace: str = ""


_CURRENT: ContextVar[Binding | None] = ContextVar("verno_cel_data", default=None)


@contextmanager
def bound(data: CelData, *, namespace: str = "") -> Iterator[Binding]:
    """Bind ``data`` (and a namespaced policy's ``namespace``) to the evaluations run inside."""
    binding = Binding(data, namespace)
    token = _CURRENT.set(binding)
    try:
        yield binding
    finally:
        _CURRENT.reset(token)


def current(function: str) -> Binding:
    """The binding of the running evaluation; a FunctionError naming ``function`` when there is none."""
    binding = _CURRENT.get()
    if binding is None:
        raise FunctionError(f"{function}: no data source is available to this evaluation (the caller must "
                            "bind one with verno.core.cel.datasources.bound)")
    return binding
