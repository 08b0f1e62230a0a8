"""HTTP routing: discovery paths, resource paths (`/api/v1/...`, `/apis/{group}/{version}/...`), list and
watch streams, and the JSON replies (errors as Status bodies, admission warnings as `Warning` headers)."""
from __future__ import annotations

import json
import queue
import select
import socket
import sys
import time
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

from . import discovery, tables
from .authz import verb_of
from .resources import ResourceType
from .selection import EXTRA_FIELDS, parse_field_selector, parse_label_selector
from .status import APIError, bad_request, expired, internal, not_found, success, unknown_resource
from .store import Watcher

if TYPE_CHECKING:
    from .server import APIServer

MAX_BODY = 16 << 20
ADMIN = {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]}


@dataclass
class Route:
    rt: ResourceType
    namespace: str
    name: str
    sub: str
    watch: bool


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "verno-test-apiserver"
    timeout = 600
    app: "APIServer"

    def setup(self) -> None:
        super().setup()
        # as Go's net/http does: without it, a reply's header and body writes meet the client's delayed ACK
        # (about 40 ms per request)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt: str, *args: Any) -> None:
        if self.app.verbose:
            sys.stderr.write(f"apiserver: {self.command} {self.path} {fmt % args}\n")

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    # -- dispatch ------------------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        self.warnings: list[str] = []
        try:
            body = self._read_body()
            url = urlparse(self.path)
            self.app.audit.append((self.command, url.path))
            query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            if self.command == "GET":
                doc = self._discovery(url.path)
                if doc is not None:
                    return self._reply(200, doc)
                if url.path in ("/healthz", "/livez", "/readyz"):
                    return self._reply_text(200, "ok")
            route = self._route(url.path)
            self._resource(route, query, body)
        except APIError as exc:
            self._reply(exc.code, exc.status)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # an unexpected fault of the stand-in itself: visible to the test
            traceback.print_exc()
            self._reply(500, internal(f"{type(exc).__name__}: {exc}").status)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                total += size
                if total > MAX_BODY:
                    raise APIError(413, "Request entity too large", "RequestEntityTooLarge")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise APIError(413, "Request entity too large", "RequestEntityTooLarge")
        return self.rfile.read(length) if length else b""

    def _discovery(self, path: str) -> dict[str, Any] | None:
        reg = self.app.registry
        parts = [p for p in path.split("/") if p]
        if parts == ["version"]:
            return discovery.VERSION
        if parts == ["api"]:
            return discovery.api_versions(self.app.address)
        if parts == ["apis"]:
            return discovery.api_group_list(reg)
        if len(parts) == 2 and parts[0] == "api":
            return discovery.resource_list(reg, "", parts[1]) or _raise(unknown_resource())
        if len(parts) == 2 and parts[0] == "apis":
            return discovery.api_group(reg, parts[1]) or _raise(unknown_resource())
        if len(parts) == 3 and parts[0] == "apis":
            return discovery.resource_list(reg, parts[1], parts[2]) or _raise(unknown_resource())
        return None

    def _route(self, path: str) -> Route:
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 3 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 4 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise unknown_resource()
        watch = False
        if rest[0] == "watch":
            watch, rest = True, rest[1:]
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            raise unknown_resource()
        rt = self.app.registry.lookup(group, version, rest[0])
        if rt is None or (namespace and not rt.namespaced):
            raise unknown_resource()
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if sub and not (sub == "status" and rt.status or sub == "finalize" and rt.plural == "namespaces"
                        and not group):
            raise unknown_resource()
        return Route(rt, namespace, name, sub, watch)

    # -- resources -----------------------------------------------------------------------------------------
    def _resource(self, r: Route, query: dict[str, str], body: bytes) -> None:
        ops, rt = self.app.operations, r.rt
        user = self._user()
        dry_run = _dry_run(query)
        method = self.command
        watching = r.watch or query.get("watch") in ("true", "1", "True")
        self.app.authorizer.check(user["username"], verb_of(method, r.name, watching), rt.group, rt.plural,
                                  r.namespace, r.name)
        if r.name and r.rt.namespaced and not r.namespace:
            raise unknown_resource()
        if method == "GET" and not r.name:
            if r.watch or query.get("watch") in ("true", "1", "True"):
                return self._watch(r, query)
            return self._list(r, query)
        if method == "GET":
            obj = self.app.store.get(rt.group_resource, (r.namespace, r.name))
            if obj is None:
                raise not_found(rt.plural, rt.group, r.name)
            obj["apiVersion"] = rt.api_version
            return self._reply_objects(r, [obj], single=True)
        if method == "POST" and not r.name:
            if rt.namespaced and not r.namespace:
                raise unknown_resource()
            if rt.group_resource == ("authorization.k8s.io", "subjectaccessreviews"):  # answered, never stored
                return self._reply(201, self.app.authorizer.review(_json_body(body)))
            created = ops.create(rt, r.namespace, _json_body(body), dry_run, user, self.warnings)
            return self._reply(201, created)
        if method == "PUT" and r.name:
            return self._reply(200, ops.update(rt, r.namespace, r.name, r.sub, _json_body(body), dry_run, user,
                                               self.warnings))
        if method == "PATCH" and r.name:
            obj, created = ops.patch(rt, r.namespace, r.name, r.sub, body, self.headers.get("Content-Type", ""),
                                     query, dry_run, user, self.warnings)
            return self._reply(201 if created else 200, obj)
        if method == "DELETE" and r.name:
            options = _delete_options(body, query)
            dry_run = dry_run or options.get("dryRun") == ["All"]
            final, gone = ops.delete(rt, r.namespace, r.name, options, dry_run, user, self.warnings)
            if gone and rt.builtin:
                return self._reply(200, success(rt.plural, rt.group, r.name, final["metadata"]["uid"]))
            return self._reply(200, final)
        if method == "DELETE":
            options = _delete_options(body, query)
            for obj in self._selected(r, query):
                try:
                    ops.delete(rt, obj["metadata"].get("namespace") or "", obj["metadata"]["name"], options,
                               dry_run, user, self.warnings)
                except APIError as exc:
                    if exc.code != 404:
                        raise
            return self._reply(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"})
        raise APIError(405, "the server does not allow this method on the requested resource", "MethodNotAllowed")

    def _user(self) -> dict[str, Any]:
        who = self.headers.get("Impersonate-User")
        if not who:
            return dict(ADMIN)
        return {"username": who, "groups": self.headers.get_all("Impersonate-Group") or ["system:authenticated"]}

    def _matchers(self, r: Route, query: dict[str, str]):
        labels = parse_label_selector(query.get("labelSelector", ""))
        allowed = ("metadata.name", "metadata.namespace", *EXTRA_FIELDS.get(r.rt.group_resource, ()),
                   *r.rt.selectable_fields)
        return labels, parse_field_selector(query.get("fieldSelector", ""), allowed)

    def _selected(self, r: Route, query: dict[str, str]) -> list[dict[str, Any]]:
        labels, fields = self._matchers(r, query)
        items, _ = self.app.store.items(r.rt.group_resource, r.namespace)
        return [o for o in items if labels(o["metadata"].get("labels") or {}) and fields(o)]

    def _list(self, r: Route, query: dict[str, str]) -> None:
        store, rt = self.app.store, r.rt
        labels, fields = self._matchers(r, query)
        if query.get("resourceVersionMatch") == "Exact" and query.get("resourceVersion"):
            wanted = int(query["resourceVersion"]) if query["resourceVersion"].isdigit() else -1
            if wanted < store.compacted:
                raise expired(query["resourceVersion"], store.compacted + 1)
        items, rv = store.items(rt.group_resource, r.namespace)
        items = [o for o in items if labels(o["metadata"].get("labels") or {}) and fields(o)]
        for o in items:
            o["apiVersion"] = rt.api_version
        if tables.wants_table(self.headers.get("Accept", "")):
            return self._reply(200, tables.table(rt, items, str(rv), query.get("includeObject", "Metadata")))
        if rt.builtin:
            for o in items:
                o.pop("apiVersion", None)
                o.pop("kind", None)
        self._reply(200, {"kind": f"{rt.kind}List", "apiVersion": rt.api_version,
                          "metadata": {"resourceVersion": str(rv)}, "items": items})

    def _reply_objects(self, r: Route, objs: list[dict[str, Any]], single: bool) -> None:
        if tables.wants_table(self.headers.get("Accept", "")):
            return self._reply(200, tables.table(r.rt, objs, objs[0]["metadata"].get("resourceVersion", ""),
                                                 "Metadata"))
        self._reply(200, objs[0])

    # -- watch ---------------------------------------------------------------------------------------------
    def _watch(self, r: Route, query: dict[str, str]) -> None:
        if query.get("sendInitialEvents") == "true":
            raise bad_request("sendInitialEvents is not supported by this API server")
        labels, fields = self._matchers(r, query)
        store, rt = self.app.store, r.rt
        w = Watcher(rt.group_resource, r.namespace, labels, fields)
        table = tables.wants_table(self.headers.get("Accept", ""))
        try:
            store.watch(w, query.get("resourceVersion"))
        except APIError as exc:
            if exc.code != 410:
                raise
            self._start_stream()
            self._event({"type": "ERROR", "object": exc.status})
            return self._end_stream()
        try:
            timeout = float(query.get("timeoutSeconds") or self.app.watch_timeout)
            bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
            deadline = time.monotonic() + timeout
            next_bookmark = time.monotonic() + self.app.bookmark_interval
            self._start_stream()
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    item = w.queue.get(timeout=min(0.25, left))
                except queue.Empty:
                    if self._client_gone():
                        return
                    if bookmarks and time.monotonic() >= next_bookmark:
                        next_bookmark = time.monotonic() + self.app.bookmark_interval
                        with store.lock:
                            if not w.queue.empty():
                                continue
                            rv = str(store.rv)
                        self._event({"type": "BOOKMARK", "object": {
                            "kind": rt.kind, "apiVersion": rt.api_version, "metadata": {"resourceVersion": rv}}})
                    continue
                if item is None:
                    break
                kind, obj = item
                obj["apiVersion"] = rt.api_version
                if table:
                    obj = tables.table(rt, [obj], obj["metadata"].get("resourceVersion", ""), "Metadata")
                self._event({"type": kind, "object": obj})
            self._end_stream()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        finally:
            store.unwatch(w)
            self.close_connection = True

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def _event(self, ev: dict[str, Any]) -> None:
        line = (json.dumps(ev, separators=(",", ":")) + "\n").encode()
        self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        self.close_connection = True

    # -- replies -------------------------------------------------------------------------------------------
    def _reply(self, code: int, doc: Any) -> None:
        body = json.dumps(doc, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for text in getattr(self, "warnings", []):
            self.send_header("Warning", '299 - "' + text.replace('"', '\\"').replace("\n", " ") + '"')
        self.end_headers()
        self.wfile.write(body)

    def _reply_text(self, code: int, text: str) -> None:
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _raise(exc: APIError) -> Any:
    raise exc


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError as exc:
        raise bad_request(f"the body of the request could not be decoded as JSON: {exc}") from None


def _dry_run(query: dict[str, str]) -> bool:
    value = query.get("dryRun")
    if value is None or value == "":
        return False
    if value != "All":
        raise bad_request(f'dryRun: Unsupported value: "{value}": supported values: "All"')
    return True


def _delete_options(body: bytes, query: dict[str, str]) -> dict[str, Any]:
    options = _json_body(body) if body.strip() else {}
    if not isinstance(options, dict):
        raise bad_request("the body of a DELETE request must be a DeleteOptions object")
    if "propagationPolicy" in query:
        options["propagationPolicy"] = query["propagationPolicy"]
    if "gracePeriodSeconds" in query:
        options["gracePeriodSeconds"] = int(query["gracePeriodSeconds"])
    if query.get("orphanDependents") in ("true", "false"):
        options["orphanDependents"] = query["orphanDependents"] == "true"
    return options
