"""What `verno apply` and `verno test` share: Values, UserInfo, resources, and building requests."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from verno.core.errors import LoadError
from verno.core.loading import (
    Document,
    flatten_lists,
    iter_file_documents,
    iter_path_documents,
    validate_model,
)
from verno.core.models.userinfo import UserInfoFile
from verno.core.objectshape import object_problem
from verno.core.models.values import ValuesBody, ValuesFile
from verno.core.request import Request
from verno.core.scope import with_default_namespace
from verno.core.sources import Sources

OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")


def _load_cli_file(path: str, model: type, kind: str) -> Any:
    """One ``cli.kyverno.io`` document (Values, UserInfo) from ``path``; old schemas are errors."""
    docs = list(iter_file_documents(path))
    if len(docs) != 1:
        raise LoadError(path, f"expected one {kind} document, found {len(docs)}")
    doc = docs[0]
    if isinstance(doc.data, dict) and (not doc.data.get("apiVersion") or not doc.data.get("kind")):
        raise LoadError(path, "uses a deprecated schema (no apiVersion/kind) — please migrate: add "
                              f"apiVersion: cli.kyverno.io/v1alpha1 and kind: {kind}", document=doc.index)
    return validate_model(model, doc)


def load_values(path: str) -> ValuesFile:
    return _load_cli_file(path, ValuesFile, "Values")


def load_userinfo(path: str) -> UserInfoFile:
    return _load_cli_file(path, UserInfoFile, "UserInfo")


def parse_set(pairs: Iterable[str]) -> dict[str, Any]:
    """``-s a=b,c=d`` (repeatable) into variables."""
    out: dict[str, Any] = {}
    for chunk in pairs:
        for pair in chunk.split(","):
            if not pair.strip():
                continue
            if "=" not in pair:
                raise LoadError("--set", f"expected key=value, got {pair!r}")
            key, value = pair.split("=", 1)
            if not key.strip():
                raise LoadError("--set", f"expected key=value, got {pair!r} (empty key)")
            out[key.strip()] = value.strip()
    return out


def merge_values(file_values: ValuesFile | None, inline: ValuesBody | None, variables: dict[str, Any]) -> ValuesFile | None:
    if file_values is None and inline is None and not variables:
        return None
    base = file_values.model_dump(by_alias=True) if file_values else {
        "apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Values"}
    if inline is not None:
        extra = inline.model_dump(by_alias=True)
        base["globalValues"] = {**base.get("globalValues", {}), **extra.get("globalValues", {})}
        for key in ("policies", "namespaceSelector", "namespaces", "subresources"):
            base[key] = list(base.get(key) or []) + list(extra.get(key) or [])
    base["globalValues"] = {**(base.get("globalValues") or {}), **variables}
    return ValuesFile.model_validate(base)


@dataclass
class Session:
    """Values, user info and data sources for one run."""

    values: ValuesFile | None = None
    userinfo: UserInfoFile | None = None
    sources: Sources = field(default_factory=Sources)
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def build(cls, values: ValuesFile | None, userinfo: UserInfoFile | None, **sources: Any) -> "Session":
        global_values = dict(values.global_values) if values else {}
        src = Sources(global_values=global_values, values=values, **sources)
        labels = values.namespace_labels() if values else {}
        return cls(values, userinfo, src, labels)

    @property
    def default_operation(self) -> str:
        op = self.sources.global_values.get("request.operation")
        if op is None:
            return "CREATE"
        if not isinstance(op, str) or op.upper() not in OPERATIONS:
            raise LoadError("values", f"request.operation must be one of {', '.join(OPERATIONS)}, got {op!r}",
                            field="globalValues.request.operation")
        return op.upper()

    def operation_for(self, policy: str, resource: dict[str, Any]) -> str | None:
        """``request.operation`` a Values file sets for one policy and resource, if any."""
        if self.values is None:
            return None
        name = (resource.get("metadata") or {}).get("name") or ""
        op = self.sources.resource_values(policy, name).get("request.operation")
        if op is None:
            return None
        if not isinstance(op, str) or op.upper() not in OPERATIONS:
            raise LoadError("values", f"request.operation must be one of {', '.join(OPERATIONS)}, got {op!r}",
                            field=f"policies[{policy}].resources[{name}].values.request.operation")
        return op.upper()

    def evaluate(self, engine: Any, policies: list[Any], resource: dict[str, Any], operation: str | None = None,
                 exceptions: Iterable[Any] = (), explain: bool = False) -> list[Any]:
        """Evaluate a resource read from a file against ``policies``, in policy order.

        As Kyverno's CLI reads it: a namespaced resource without a namespace is in ``default``; Values
        for a policy and resource may set ``request.operation`` (unless the test result names one) and
        may set fields of the resource itself (``request.object.metadata.labels.x: y``), which the
        policy then sees in matching and validation alike.
        """
        if not policies:
            return []
        resource = with_default_namespace(resource)
        if self.values is None:  # one operation and one view of the resource for every policy
            return engine.evaluate(policies, self.request(resource, operation), sources=self.sources,
                                   exceptions=exceptions, explain=explain)
        groups: dict[tuple[str, int], tuple[dict[str, Any], list[Any]]] = {}
        for prepared in policies:
            op = operation or self.operation_for(prepared.name, resource) or self.default_operation
            seen = self._resource_for(prepared.name, resource)
            key = (op, id(seen))
            groups.setdefault(key, (seen, []))[1].append(prepared)
        if len(groups) <= 1:
            (op, _), (seen, _) = next(iter(groups.items()), (((operation or self.default_operation), 0),
                                                              (resource, [])))
            return engine.evaluate(policies, self.request(seen, op), sources=self.sources, exceptions=exceptions,
                                   explain=explain)
        by_policy: dict[int, Any] = {}
        for (op, _), (seen, group) in groups.items():
            for prepared, response in zip(group, engine.evaluate(group, self.request(seen, op),
                                                                 sources=self.sources, exceptions=exceptions,
                                                                 explain=explain)):
                by_policy[id(prepared)] = response
        return [by_policy[id(p)] for p in policies]

    def evaluate_kinds(self, engine: Any, policies: list[Any], resource: dict[str, Any], inputs: Any,
                       operation: str | None = None, *, payload: bool | str = False) -> list[Any]:
        """Evaluate a resource (or, with ``payload``, a JSON, Envoy or HTTP payload) against policies of plugin-registered
        kinds (CEL policies, admission policies), as Kyverno's CLI does after a ClusterPolicy's rules.

        As Kyverno's CLI (``ProcessResources``), every integer of a resource read from a file is a float64
        by then, so CEL expressions see ``double``; ClusterPolicies are not affected.
        """
        if not policies:
            return []
        if payload:
            return engine.evaluate_kinds(policies, Request(resource), inputs, payload=payload)
        from verno.core.cel.cost import note_measured

        measured = float64_measured(with_default_namespace(resource))
        request = self.request(measured.value, operation)  # type: ignore[arg-type]
        note_measured(request.cache, measured)  # the CEL evaluations need not walk the resource again
        return engine.evaluate_kinds(policies, request, inputs)

    def _resource_for(self, policy: str, resource: dict[str, Any]) -> dict[str, Any]:
        """The resource with the fields Values set through ``request.object.*`` (the same object if none)."""
        if self.values is None:
            return resource
        name = (resource.get("metadata") or {}).get("name") or ""
        merged = {**self.sources.global_values, **self.sources.resource_values(policy, name)}
        overrides = [(k, v) for k, v in merged.items() if k.startswith("request.object.")]
        if not overrides:
            return resource
        from verno.core.context import Context

        ctx = Context({"request": {"object": resource}})
        for key, value in overrides:
            ctx.add_variable(key, value)
        return ctx.data["request"]["object"]

    def request(self, resource: dict[str, Any], operation: str | None = None,
                old_resource: dict[str, Any] | None = None) -> Request:
        op = operation or self.default_operation
        meta = resource.get("metadata") or {}
        ns = meta.get("namespace") or ""
        if resource.get("kind") == "Namespace":
            ns = meta.get("name") or ""
        labels = dict(self.namespace_labels.get(ns, {}))
        if resource.get("kind") == "Namespace" and not labels:
            labels = dict(meta.get("labels") or {})
        user = None
        roles: list[str] = []
        cluster_roles: list[str] = []
        if self.userinfo is not None:
            # authenticationv1.UserInfo's fields are all omitempty: an empty one is absent, not ""/[]/{}
            user = {k: v for k, v in self.userinfo.user_info.model_dump(by_alias=True).items() if v}
            roles = list(self.userinfo.roles)
            cluster_roles = list(self.userinfo.cluster_roles)
        subresource, request_kind = self._subresource(resource)
        if op == "DELETE":
            return Request({}, old_resource or resource, op, user, roles, cluster_roles, labels, subresource,
                           request_kind)
        if op == "UPDATE":
            old_resource = old_resource or resource
        return Request(resource, old_resource, op, user, roles, cluster_roles, labels, subresource, request_kind)

    def _subresource(self, resource: dict[str, Any]) -> tuple[str, tuple[str, str, str] | None]:
        """A resource whose kind is a declared subresource (Values ``subresources``), e.g. Scale."""
        if self.values is None:
            return "", None
        api_version = resource.get("apiVersion") or ""
        group, _, version = api_version.rpartition("/")
        for sub in self.values.subresources:
            s = sub.subresource
            if s.kind == resource.get("kind") and s.group == group and s.version == version:
                parent = sub.parent_resource
                return s.name.split("/", 1)[1] if "/" in s.name else s.name, (parent.group, parent.version,
                                                                             parent.kind)
        return "", None


def namespace_objects(values: Any) -> dict[str, dict[str, Any]]:
    """Namespace objects by name (``namespaceObject`` of CEL policies): a Values file's ``namespaceSelector``
    entries (a name and labels) and its ``namespaces`` (whole objects, which win)."""
    out: dict[str, dict[str, Any]] = {}
    if values is None:
        return out
    for entry in values.namespace_selector:
        out[entry.name] = {"apiVersion": "v1", "kind": "Namespace",
                           "metadata": {"name": entry.name, "labels": dict(entry.labels or {})}}
    for obj in values.namespaces:
        if obj.metadata.name:
            out[obj.metadata.name] = obj.as_object()
    return out


def float64_numbers(value: Any) -> Any:
    """``value`` with every integer a float (bools stay), as Kyverno's CLI hands resources to CEL."""
    if isinstance(value, dict):
        return {k: float64_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [float64_numbers(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def float64_measured(value: Any) -> Any:
    """:func:`float64_numbers` of ``value``, measured as :func:`verno.core.cel.cost.measure` would measure the
    copy (longest list or map, longest string or key, whether one holds a NUL), in the same walk: a
    :class:`verno.core.cel.cost.Measured`."""
    from verno.core.cel.cost import Measured, Sizes, measure

    items = chars = 0
    nul = False

    def copy(v: Any) -> Any:
        nonlocal items, chars, nul
        kind = type(v)
        if kind is dict:
            if len(v) > items:
                items = len(v)
            out = {}
            for k, x in v.items():
                if type(k) is str:
                    if len(k) > chars:
                        chars = len(k)
                    if "\0" in k:
                        nul = True
                t = type(x)
                if t is str:
                    if len(x) > chars:
                        chars = len(x)
                    if "\0" in x:
                        nul = True
                    out[k] = x
                elif t is int:
                    out[k] = float(x)
                elif t is float or t is bool or x is None:
                    out[k] = x
                else:
                    out[k] = copy(x)
            return out
        if kind is list:
            if len(v) > items:
                items = len(v)
            out_list = []
            add = out_list.append
            for x in v:  # the scalars in place (most lists hold strings), containers through copy
                t = type(x)
                if t is str:
                    if len(x) > chars:
                        chars = len(x)
                    if "\0" in x:
                        nul = True
                    add(x)
                elif t is int:
                    add(float(x))
                elif t is float or t is bool or x is None:
                    add(x)
                else:
                    add(copy(x))
            return out_list
        if kind is str:
            if len(v) > chars:
                chars = len(v)
            if "\0" in v:
                nul = True
            return v
        if kind is int:
            return float(v)
        if kind is float or kind is bool or v is None:
            return v
        converted = float64_numbers(v)  # anything else: as float64_numbers converts it, measured as measure does
        sizes, has_nul = measure(converted)
        items, chars, nul = max(items, sizes.items), max(chars, sizes.chars), nul or has_nul
        return converted

    result = copy(value)
    return Measured(result, Sizes(items, chars), nul)


def iter_resources(paths: Iterable[str]) -> Iterator[Document]:
    """Resource documents from paths, one at a time; ``List`` kinds stand for their items."""
    for doc in iter_path_documents(paths):
        yield from _resources_of(doc)


def _resources_of(doc: Document) -> Iterator[Document]:
    for item in flatten_lists(doc):
        data = item.data
        if not isinstance(data, dict):
            raise LoadError(item.source, f"expected a Kubernetes object, got {type(data).__name__}",
                            document=item.index)
        problem = object_problem(data)
        if problem is not None:
            raise LoadError(item.source, problem[1], document=item.index, field=problem[0])
        yield item


#: one piece of work for a worker: a resource already read, or one unparsed YAML document of a file
Unit = tuple[Any, ...]


def unit_resources(unit: Unit) -> list[dict[str, Any]]:
    """The resources a :meth:`ResourceFiles.units` entry stands for, read as iterating would read them."""
    if unit[0] == "resource":
        return [unit[1]]
    from verno.core.yamlio import load_document

    _, path, index, chunk, line = unit
    value = load_document(chunk, path, index=index, line=line)
    if value is None:
        return []
    return [doc.data for doc in _resources_of(Document(path, index, value))]


class ResourceFiles:
    """Resource files counted first and then read one document at a time.

    YAML files are counted from their document boundaries and parsed only while iterating; a JSON file is
    one document anyway, so it is parsed once, when counted, and its objects are kept for the iteration.
    """

    def __init__(self, paths: Iterable[str]):
        from verno.core.loading import expand_paths

        self.paths = expand_paths(paths)
        self._held: dict[str, list[Document]] = {}
        self._texts: dict[str, str] = {}  # YAML files, as read when counted

    def count(self) -> int:
        from verno.cli.gc_policy import reading_for_run
        from verno.core.loading import read_text
        from verno.core.yamlio import count_documents, is_json

        total = 0
        for path in self.paths:
            text = read_text(path)
            if path == "-" or is_json(text):
                with reading_for_run():
                    docs = [item for doc in iter_file_text(text, path) for item in _resources_of(doc)]
                self._held[path] = docs
                total += len(docs)
            else:
                total += count_documents(text, path)
                self._texts[path] = text
        return total

    def units(self) -> list[Unit]:
        """Every resource (held) or YAML document (unparsed), in order, for evaluation by workers."""
        from verno.core.yamlio import yaml_chunks

        out: list[Unit] = []
        for path in self.paths:
            if path in self._held:
                out.extend(("resource", doc.data) for doc in self._held[path])
            else:
                out.extend(("yaml", path, index, chunk, line) for index, chunk, line in yaml_chunks(self._texts[path]))
        return out

    def __iter__(self) -> Iterator[Document]:
        for path in self.paths:
            held = self._held.pop(path, None)
            if held is not None:
                yield from held
            else:
                text = self._texts.pop(path, None)
                docs = iter_file_text(text, path) if text is not None else iter_path_documents([path])
                for doc in docs:
                    yield from _resources_of(doc)


def iter_file_text(text: str, path: str) -> Iterator[Document]:
    from verno.core.yamlio import iter_documents

    for index, data in iter_documents(text, path):
        yield Document(path, index, data)


def resource_label(resource: dict[str, Any]) -> str:
    """``namespace/Kind/name`` (``Kind/name`` when cluster-scoped), as Kyverno prints resources."""
    meta = resource.get("metadata") or {}
    ns = meta.get("namespace") or ""
    name = meta.get("name") or meta.get("generateName") or ""
    kind = resource.get("kind") or ""
    return f"{ns}/{kind}/{name}" if ns else f"{kind}/{name}"
