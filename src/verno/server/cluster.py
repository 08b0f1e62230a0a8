"""Cluster mode: ClusterPolicy, Policy, PolicyException and Namespace objects, and the documents of every
plugin-registered policy kind with its companions (ValidatingPolicy, VAP and bindings ...), watched through
the official ``kubernetes`` client (the only module importing it), and a cluster client for context loaders.

A plugin-registered kind is listed at the first of its ``cluster_versions`` the cluster serves (Kubernetes
serves MutatingAdmissionPolicy at ``v1beta1`` before 1.36); one no version of which the cluster serves (its
CRD is not installed) counts as listed and empty, and is listed again every minute, so installing the CRD
later is picked up.

Each kind is listed, then watched from the list's resourceVersion; a broken watch (410 Gone, a network
error) relists after a short pause. Every change builds a complete new snapshot (policies prepared
once per resourceVersion) and swaps it in; the store is ready once every kind was listed once.
A policy that does not load is logged and left out; the others keep being served.
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.client.rest import ApiException

from verno.core.engine import Engine
from verno.core.errors import ContextLoadError
from verno.core.errors import VernoError
from verno.core.loaders.offline_cluster import guess_resource
from verno.core.loading import Document, validate_model
from verno.core.models.exception import PolicyException
from verno.core.models.policy import Policy
from verno.core.prepare import PreparedPolicy
from verno.server.policies import PolicyStore
from verno.server.settings import Settings, own_namespace

log = logging.getLogger("verno.server.cluster")


@dataclass(frozen=True)
class Watched:
    name: str  # collection name, for logs
    group: str
    #: the versions to list it at, preferred first (the next is tried when the cluster does not serve one)
    versions: tuple[str, ...]
    plural: str
    #: ``group/Kind`` of a plugin-registered policy kind or companion ("" for the built-in collections)
    kind_key: str = ""


POLICY_KINDS = (
    Watched("clusterpolicies", "kyverno.io", ("v1",), "clusterpolicies"),
    Watched("policies", "kyverno.io", ("v1",), "policies"),
    Watched("policyexceptions", "kyverno.io", ("v2",), "policyexceptions"),
)
NAMESPACES = Watched("namespaces", "", ("v1",), "namespaces")

#: seconds between two lists of a resource the cluster does not serve
UNSERVED_RETRY_SECONDS = 60.0


def kind_collections(engine: Engine) -> tuple[Watched, ...]:
    """The collections of every policy kind and companion the engine's plugins registered."""
    out: dict[str, Watched] = {}
    for entry in engine.policy_kinds.kinds:
        kind = entry.value
        keys = [entry.name] + sorted(kind.companions)
        for key in keys:
            group, _, name = key.partition("/")
            plural = guess_resource(name)
            out.setdefault(key, Watched(f"{group}/{plural}", group, tuple(kind.cluster_versions), plural, key))
    return tuple(out[k] for k in sorted(out))


def api_client(settings: Settings) -> k8s.ApiClient:
    configuration = k8s.Configuration()
    if settings.in_cluster:
        k8s_config.load_incluster_config(client_configuration=configuration)
    else:
        k8s_config.load_kube_config(config_file=settings.kubeconfig, client_configuration=configuration)
    return k8s.ApiClient(configuration)


def _key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or ""
    return f"{ns}/{meta.get('name') or ''}" if ns else meta.get("name") or ""


class KubeClusterClient:
    """``verno.core.sources.ClusterClient`` over the API server (configMap and apiCall context entries,
    Secrets for verifyImages). ``namespace`` is verno's own (where bare Secret names are read)."""

    def __init__(self, api: k8s.ApiClient, timeout: float, namespace: str = ""):
        self.api, self.timeout, self.namespace = api, timeout, namespace

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        try:
            if hasattr(self.api, "param_serialize"):  # kubernetes >= 31 (the newer generated client)
                params = self.api.param_serialize(method=method, resource_path=path, header_params=headers,
                                                  body=body, auth_settings=["BearerToken"])
                resp = self.api.call_api(*params, _request_timeout=self.timeout)
                resp.read()
                if not 200 <= resp.status < 300:
                    raise ApiException(status=resp.status, reason=resp.reason)
            else:
                resp = self.api.call_api(path, method, header_params=headers, body=body,
                                         auth_settings=["BearerToken"], _preload_content=False,
                                         _request_timeout=self.timeout)
                resp = resp[0] if isinstance(resp, tuple) else resp
            data = resp.data
        except ApiException as exc:
            raise ContextLoadError(f"API call {method} {path} returned HTTP {exc.status}") from None
        except Exception as exc:  # connection errors, timeouts
            raise ContextLoadError(f"API call {method} {path} failed: {exc}") from None
        try:
            return json.loads(data)
        except ValueError:
            raise ContextLoadError(f"API call {method} {path} did not return JSON") from None

    def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self._call("GET", f"/api/v1/namespaces/{namespace}/configmaps/{name}")
        except ContextLoadError as exc:
            if "HTTP 404" in str(exc):
                return None
            raise

    def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self._call("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
        except ContextLoadError as exc:
            if "HTTP 404" in str(exc):
                return None
            raise

    def raw_get(self, url_path: str) -> Any:
        return self._call("GET", url_path)

    def raw_post(self, url_path: str, body: Any) -> Any:
        return self._call("POST", url_path, body)


class ClusterPolicyStore(PolicyStore):
    """Policies and exceptions as the cluster has them, plus namespace labels."""

    def __init__(self, engine: Engine):
        super().__init__(engine)
        self.kind_collections = kind_collections(engine)
        self.objects: dict[str, dict[str, dict[str, Any]]] = {w.name: {} for w in (*POLICY_KINDS,
                                                                                     *self.kind_collections)}
        self._kind_loaded: dict[tuple[str, str, str], Any] = {}
        self.labels: dict[str, dict[str, str]] = {}
        self._listed: set[str] = set()
        self._prepared: dict[tuple[str, str, str], PreparedPolicy | None] = {}
        self._exceptions: dict[tuple[str, str], PolicyException | None] = {}
        self._build_lock = threading.Lock()

    def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        return self.labels.get(namespace)

    def replace(self, kind: str, items: list[dict[str, Any]]) -> None:
        """A fresh list of one kind."""
        if kind == NAMESPACES.name:
            self.labels = {(i.get("metadata") or {}).get("name", ""): dict((i.get("metadata") or {}).get("labels") or {})
                           for i in items}
        else:
            self.objects[kind] = {_key(i): i for i in items}
        self._listed.add(kind)
        self.rebuild()

    def event(self, kind: str, kind_of_event: str, obj: dict[str, Any]) -> None:
        if kind == NAMESPACES.name:
            name = (obj.get("metadata") or {}).get("name", "")
            labels = dict(self.labels)
            if kind_of_event == "DELETED":
                labels.pop(name, None)
            else:
                labels[name] = dict((obj.get("metadata") or {}).get("labels") or {})
            self.labels = labels  # swapped, never changed in place
            return
        objs = dict(self.objects[kind])
        if kind_of_event == "DELETED":
            objs.pop(_key(obj), None)
        else:
            objs[_key(obj)] = obj
        self.objects[kind] = objs
        self.rebuild()

    def rebuild(self) -> None:
        if not all(w.name in self._listed for w in (*POLICY_KINDS, *self.kind_collections, NAMESPACES)):
            return
        with self._build_lock:
            policies: list[PreparedPolicy] = []
            for kind in ("clusterpolicies", "policies"):
                for key, obj in sorted(self.objects[kind].items()):
                    prepared = self._prepare(kind, key, obj)
                    if prepared is not None:
                        policies.append(prepared)
            exceptions = [e for e in (self._exception(k, o) for k, o in
                                      sorted(self.objects["policyexceptions"].items())) if e is not None]
            kind_policies, companions = self._kind_documents()
            snap = self.install(policies, exceptions, kind_policies, companions)
        log.info("policies loaded", extra={"policies": snap.policy_count, "exceptions": len(snap.exceptions),
                                           "generation": snap.generation})

    def _prepare(self, kind: str, key: str, obj: dict[str, Any]) -> PreparedPolicy | None:
        rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        cache_key = (kind, key, rv)
        if cache_key not in self._prepared:
            try:
                policy = validate_model(Policy, Document(f"{kind}/{key}", 0, _clean(obj)))
                prepared: PreparedPolicy | None = self.engine.prepare(policy, source=f"{kind}/{key}")
                self.engine.require_handlers([prepared])
            except Exception as exc:
                log.error("policy not loaded", extra={"policy": key, "kind": kind, "error": str(exc)})
                prepared = None
            self._prepared = {k: v for k, v in self._prepared.items() if k[:2] != (kind, key)}
            self._prepared[cache_key] = prepared
        return self._prepared[cache_key]

    def _kind_documents(self) -> tuple[list[Any], dict[str, list[dict[str, Any]]]]:
        """Policies of plugin-registered kinds (each loaded once per resourceVersion) and companions."""
        policies: list[Any] = []
        companions: dict[str, list[dict[str, Any]]] = {}
        for what in self.kind_collections:
            group, _, kind = what.kind_key.partition("/")
            policy_kind = self.engine.policy_kinds.kind_of(group, kind)
            for key, obj in sorted(self.objects[what.name].items()):
                obj = {**_clean(obj), "apiVersion": obj.get("apiVersion") or f"{group}/{what.versions[0]}",
                       "kind": obj.get("kind") or kind}
                if policy_kind is None:
                    companions.setdefault(what.kind_key, []).append(obj)
                    continue
                loaded = self._load_kind(what, key, obj, policy_kind)
                if loaded is not None:
                    policies.append(loaded)
        return policies, companions

    def _load_kind(self, what: Watched, key: str, obj: dict[str, Any], policy_kind: Any) -> Any:
        rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        cache_key = (what.name, key, rv)
        if cache_key not in self._kind_loaded:
            try:
                loaded = policy_kind.load(Document(f"{what.name}/{key}", 0, obj), self.engine)
            except VernoError as exc:
                log.error("policy not loaded", extra={"policy": key, "kind": what.kind_key, "error": str(exc)})
                loaded = None
            self._kind_loaded = {k: v for k, v in self._kind_loaded.items() if k[:2] != (what.name, key)}
            self._kind_loaded[cache_key] = loaded
        return self._kind_loaded[cache_key]

    def _exception(self, key: str, obj: dict[str, Any]) -> PolicyException | None:
        rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        if (key, rv) not in self._exceptions:
            try:
                exc: PolicyException | None = validate_model(PolicyException,
                                                              Document(f"policyexceptions/{key}", 0, _clean(obj)))
            except Exception as error:
                log.error("policy exception not loaded", extra={"exception": key, "error": str(error)})
                exc = None
            self._exceptions = {k: v for k, v in self._exceptions.items() if k[0] != key}
            self._exceptions[(key, rv)] = exc
        return self._exceptions[(key, rv)]


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without server-managed noise the models do not need."""
    meta = dict(obj.get("metadata") or {})
    meta.pop("managedFields", None)
    return {**obj, "metadata": meta}


class Watcher:
    """List then watch one kind, forever, feeding the store."""

    def __init__(self, store: ClusterPolicyStore, api: k8s.ApiClient, what: Watched, stop: threading.Event,
                 retry_seconds: float = 1.0, watch_seconds: int = 300):
        self.store, self.api, self.what, self.stop_event = store, api, what, stop
        self.retry_seconds, self.watch_seconds = retry_seconds, watch_seconds
        self._watch: k8s_watch.Watch | None = None

    def _list_fn(self, version: str) -> Callable[..., Any]:
        if self.what is NAMESPACES:
            return k8s.CoreV1Api(self.api).list_namespace
        custom = k8s.CustomObjectsApi(self.api)
        w = self.what

        def list_custom(**kwargs: Any) -> Any:
            return custom.list_cluster_custom_object(w.group, version, w.plural, **kwargs)

        return list_custom

    def _plain(self, obj: Any) -> dict[str, Any]:
        return obj if isinstance(obj, dict) else self.api.sanitize_for_serialization(obj)

    def _stamped(self, obj: dict[str, Any], version: str) -> dict[str, Any]:
        """The object with the apiVersion and kind it was listed at (an API server leaves them out of the
        items of a built-in kind's list)."""
        if not self.what.kind_key or (obj.get("apiVersion") and obj.get("kind")):
            return obj
        group, _, kind = self.what.kind_key.partition("/")
        return {**obj, "apiVersion": obj.get("apiVersion") or f"{group}/{version}", "kind": obj.get("kind") or kind}

    def run(self) -> None:
        versions = self.what.versions
        index = 0
        while not self.stop_event.is_set():
            version = versions[index]
            fn = self._list_fn(version)
            try:
                listed = self._plain(fn())
                self.store.replace(self.what.name, [self._stamped(i, version) for i in listed.get("items") or []])
                rv = (listed.get("metadata") or {}).get("resourceVersion") or ""
                while not self.stop_event.is_set():
                    self._watch = k8s_watch.Watch()
                    for ev in self._watch.stream(fn, resource_version=rv, timeout_seconds=self.watch_seconds):
                        if self.stop_event.is_set():
                            return
                        kind, obj = ev.get("type"), self._plain(ev.get("object"))
                        if kind == "ERROR":
                            raise ApiException(status=(obj or {}).get("code", 500), reason="watch error")
                        if kind == "BOOKMARK":
                            continue
                        rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
                        self.store.event(self.what.name, str(kind), self._stamped(obj, version))
            except ApiException as exc:
                if self.stop_event.is_set():
                    return
                if exc.status == 404 and self.what.kind_key and index + 1 < len(versions):
                    index += 1  # not served at this version: the next one
                    continue
                if exc.status == 404 and self.what.kind_key:  # the cluster serves no version of it (no CRD)
                    index = 0
                    log.warning("resource not served; treated as empty",
                                extra={"collection": self.what.name, "versions": ", ".join(versions)})
                    self.store.replace(self.what.name, [])
                    self.stop_event.wait(UNSERVED_RETRY_SECONDS)
                    continue
                log.warning("watch interrupted; relisting", extra={"collection": self.what.name, "error": str(exc)})
                self.stop_event.wait(self.retry_seconds)
            except Exception as exc:  # relist after a pause (410 Gone, connection loss, server errors)
                if self.stop_event.is_set():
                    return
                log.warning("watch interrupted; relisting", extra={"collection": self.what.name, "error": str(exc)})
                self.stop_event.wait(self.retry_seconds)

    def stop(self) -> None:
        if self._watch is not None:
            self._watch.stop()


def start_cluster_store(engine: Engine, settings: Settings) -> tuple[ClusterPolicyStore, KubeClusterClient,
                                                                     Callable[[], None]]:
    api = api_client(settings)
    store = ClusterPolicyStore(engine)
    stop_event = threading.Event()
    watchers = [Watcher(store, api, what, stop_event) for what in (*POLICY_KINDS, *store.kind_collections,
                                                                   NAMESPACES)]
    for w in watchers:
        threading.Thread(target=w.run, name=f"verno-watch-{w.what.name}", daemon=True).start()

    def stop() -> None:
        stop_event.set()
        for w in watchers:
            w.stop()

    return store, KubeClusterClient(api, settings.timeout, own_namespace()), stop
