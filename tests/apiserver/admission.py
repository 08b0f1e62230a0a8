"""The admission chain: the MutatingWebhookConfigurations held in the store, called serially (configurations by
name, webhooks in order, `reinvocationPolicy: IfNeeded` honoured), then the ValidatingWebhookConfigurations in
parallel. Webhooks are reached over TLS checked against their caBundle; `service` references go through a map
of `namespace/name` to a local https address (the certificate is still checked for `<name>.<namespace>.svc`)."""
from __future__ import annotations

import base64
import copy
import http.client
import json
import ssl
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import jsonpatch

from . import cel
from .resources import WEBHOOK_CONFIGS, Registry, ResourceType
from .selection import label_selector_object
from .status import APIError, internal
from .store import Store

MUTATING = ("admissionregistration.k8s.io", "mutatingwebhookconfigurations")
VALIDATING = ("admissionregistration.k8s.io", "validatingwebhookconfigurations")


@dataclass
class Attributes:
    rt: ResourceType
    operation: str                 # CREATE, UPDATE, DELETE
    name: str
    namespace: str
    obj: dict[str, Any] | None
    old: dict[str, Any] | None
    dry_run: bool
    options: dict[str, Any]
    user: dict[str, Any]
    subresource: str = ""
    warnings: list[str] = field(default_factory=list)


class WebhookFailure(Exception):
    """A webhook could not be called or answered badly (subject to failurePolicy)."""


class Admission:
    def __init__(self, store: Store, registry: Registry, service_map: dict[str, str] | None = None) -> None:
        self.store = store
        self.registry = registry
        self.service_map = dict(service_map or {})
        self.calls: list[tuple[str, str]] = []   # (webhook name, operation), for tests

    # -- the chain -----------------------------------------------------------------------------------------
    def mutate(self, attrs: Attributes) -> dict[str, Any] | None:
        if attrs.rt.group_resource in WEBHOOK_CONFIGS:
            return attrs.obj
        hooks = self._hooks(MUTATING)
        ran: list[tuple[dict[str, Any], int]] = []  # (webhook, change count after its call)
        changes = 0
        for hook in hooks:
            if self._call_mutating(hook, attrs):
                changes += 1
            if hook.get("reinvocationPolicy") == "IfNeeded":
                ran.append((hook, changes))
        for hook, seen in ran:
            if changes > seen:
                self._call_mutating(hook, attrs)
        return attrs.obj

    def validate(self, attrs: Attributes) -> None:
        if attrs.rt.group_resource in WEBHOOK_CONFIGS:
            return
        hooks = self._hooks(VALIDATING)
        if not hooks:
            return
        with ThreadPoolExecutor(max_workers=min(8, len(hooks))) as pool:
            outcomes = list(pool.map(lambda h: self._outcome(h, attrs, mutating=False), hooks))
        for outcome in outcomes:
            if isinstance(outcome, APIError):
                raise outcome

    def _hooks(self, gr: tuple[str, str]) -> list[dict[str, Any]]:
        configs, _ = self.store.items(gr)
        return [hook for cfg in sorted(configs, key=lambda c: c["metadata"]["name"])
                for hook in cfg.get("webhooks") or []]

    def _call_mutating(self, hook: dict[str, Any], attrs: Attributes) -> bool:
        before = json.dumps(attrs.obj, sort_keys=True)
        outcome = self._outcome(hook, attrs, mutating=True)
        if isinstance(outcome, APIError):
            raise outcome
        return json.dumps(attrs.obj, sort_keys=True) != before

    def _outcome(self, hook: dict[str, Any], attrs: Attributes, mutating: bool) -> APIError | None:
        """Call one webhook if it matches; apply its patch (mutating); an APIError for a rejection."""
        name = hook["name"]
        policy = hook.get("failurePolicy", "Fail")
        target = self._match(hook, attrs)
        if target is None:
            return None
        review = self._review(attrs, target)
        try:
            if not self._conditions(hook, attrs, review["request"]):
                return None
        except cel.CELError as exc:
            if policy == "Ignore":
                return None
            return internal(f'failed calling webhook "{name}": failed to evaluate match condition: {exc}')
        try:
            response = self._post(hook, review)
        except WebhookFailure as exc:
            if policy == "Ignore":
                return None
            return internal(f'failed calling webhook "{name}": {exc}')
        attrs.warnings.extend(str(w) for w in response.get("warnings") or [])
        if not response.get("allowed"):
            return _denial(name, response.get("status") or {})
        if response.get("patch"):
            if not mutating:
                return internal(f'failed calling webhook "{name}": validating webhook may not return a patch')
            try:
                ops = json.loads(base64.b64decode(response["patch"]))
                sent = review["request"]["object"]
                patched = jsonpatch.JsonPatch(ops).apply(sent)
            except (ValueError, jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, KeyError,
                    IndexError, TypeError) as exc:
                if policy == "Ignore":
                    return None
                return internal(f'failed calling webhook "{name}": failed to apply patch: {exc}')
            if response.get("patchType") not in (None, "JSONPatch"):
                return internal(f'failed calling webhook "{name}": unsupported patch type '
                                f'"{response.get("patchType")}"')
            patched["apiVersion"] = attrs.rt.api_version
            attrs.obj = patched
        return None

    # -- matching ------------------------------------------------------------------------------------------
    def _match(self, hook: dict[str, Any], attrs: Attributes) -> ResourceType | None:
        """The resource version to send the request as (matchPolicy Equivalent tries the other served versions
        of the same resource), or None when the webhook does not apply."""
        candidates = [attrs.rt]
        if hook.get("matchPolicy", "Equivalent") == "Equivalent":
            candidates += [t for t in self.registry.all() if t.group_resource == attrs.rt.group_resource
                           and t.version != attrs.rt.version]
        target = next((t for t in candidates if any(_rule_matches(r, t, attrs)
                                                    for r in hook.get("rules") or [])), None)
        if target is None:
            return None
        if not self._namespace_selected(hook, attrs):
            return None
        selector = label_selector_object(hook.get("objectSelector"))
        if hook.get("objectSelector") and not any(
                o is not None and selector((o.get("metadata") or {}).get("labels") or {})
                for o in (attrs.obj, attrs.old)):
            return None
        return target

    def _namespace_selected(self, hook: dict[str, Any], attrs: Attributes) -> bool:
        if not hook.get("namespaceSelector"):
            return True
        selector = label_selector_object(hook["namespaceSelector"])
        if attrs.rt.group_resource == ("", "namespaces"):
            subject = attrs.old if attrs.operation == "DELETE" else attrs.obj
            return selector(((subject or {}).get("metadata") or {}).get("labels") or {})
        if not attrs.rt.namespaced:
            return True
        ns = self.store.get(("", "namespaces"), ("", attrs.namespace))
        return selector(((ns or {}).get("metadata") or {}).get("labels") or {})

    def _conditions(self, hook: dict[str, Any], attrs: Attributes, request: dict[str, Any]) -> bool:
        env = {"object": attrs.obj, "oldObject": attrs.old, "request": request}
        for cond in hook.get("matchConditions") or []:
            result = cel.evaluate(cel.compile_expression(cond["expression"]), env)
            if not isinstance(result, bool):
                raise cel.CELError(f"matchCondition {cond.get('name')!r} did not evaluate to a bool")
            if not result:
                return False
        return True

    # -- the call ------------------------------------------------------------------------------------------
    def _review(self, attrs: Attributes, target: ResourceType) -> dict[str, Any]:
        def converted(o: dict[str, Any] | None) -> dict[str, Any] | None:
            if o is None:
                return None
            o = copy.deepcopy(o)
            o["apiVersion"] = target.api_version
            return o
        rt = attrs.rt
        options_kind = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}
        request: dict[str, Any] = {
            "uid": str(uuid.uuid4()),
            "kind": {"group": target.group, "version": target.version, "kind": target.kind},
            "resource": {"group": target.group, "version": target.version, "resource": target.plural},
            "requestKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
            "requestResource": {"group": rt.group, "version": rt.version, "resource": rt.plural},
            "name": attrs.name, "operation": attrs.operation, "userInfo": attrs.user,
            "object": converted(attrs.obj), "oldObject": converted(attrs.old), "dryRun": attrs.dry_run,
            "options": {"kind": options_kind[attrs.operation], "apiVersion": "meta.k8s.io/v1", **attrs.options},
        }
        if attrs.subresource:
            request["subResource"] = request["requestSubResource"] = attrs.subresource
        if attrs.namespace:
            request["namespace"] = attrs.namespace
        return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}

    def _post(self, hook: dict[str, Any], review: dict[str, Any]) -> dict[str, Any]:
        cc = hook.get("clientConfig") or {}
        timeout = int(hook.get("timeoutSeconds") or 10)
        if cc.get("url"):
            url = cc["url"]
            parsed = urlparse(url)
            host, port, path, server_name = parsed.hostname or "", parsed.port or 443, parsed.path or "/", \
                parsed.hostname or ""
        else:
            svc = cc["service"]
            ref = f"{svc['namespace']}/{svc['name']}"
            server_name = f"{svc['name']}.{svc['namespace']}.svc"
            url = f"https://{server_name}:{svc.get('port', 443)}{svc.get('path') or '/'}"
            local = self.service_map.get(ref)
            if local is None:
                raise WebhookFailure(f'failed to call webhook: Post "{url}?timeout={timeout}s": dial tcp: lookup '
                                     f"{server_name}: no such host (no --service-map entry for {ref})")
            parsed = urlparse(local)
            host, port, path = parsed.hostname or "", parsed.port or 443, svc.get("path") or "/"
        call_url = f"{url}?timeout={timeout}s"
        context = ssl.create_default_context()
        if cc.get("caBundle"):
            try:
                context = ssl.create_default_context(cadata=base64.b64decode(cc["caBundle"]).decode())
            except (ValueError, ssl.SSLError) as exc:
                raise WebhookFailure(f"failed to call webhook: unable to load caBundle: {exc}") from None
        self.calls.append((hook["name"], review["request"]["operation"]))
        conn = _Connection(host, port, server_name, context, timeout)
        try:
            body = json.dumps(review).encode()
            conn.request("POST", f"{path}?timeout={timeout}s", body=body,
                         headers={"Content-Type": "application/json", "Accept": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
        except TimeoutError:
            raise WebhookFailure(f'failed to call webhook: Post "{call_url}": context deadline exceeded') from None
        except (OSError, http.client.HTTPException) as exc:
            raise WebhookFailure(f'failed to call webhook: Post "{call_url}": {exc}') from None
        finally:
            conn.close()
        if resp.status != 200:
            raise WebhookFailure(f"received invalid webhook response: the server responded with the status code "
                                 f"{resp.status}")
        try:
            answer = json.loads(data)
            response = answer["response"]
        except (ValueError, KeyError, TypeError):
            raise WebhookFailure("received invalid webhook response: not an AdmissionReview with a response") \
                from None
        if not isinstance(response, dict) or response.get("uid") != review["request"]["uid"]:
            got = response.get("uid") if isinstance(response, dict) else None
            raise WebhookFailure(f'expected response.uid="{review["request"]["uid"]}", got "{got}"')
        return response


class _Connection(http.client.HTTPSConnection):
    """HTTPS to a local address while verifying the certificate for another name (the service DNS name)."""

    def __init__(self, host: str, port: int, server_name: str, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(host, port, context=context, timeout=timeout)
        self._server_name = server_name
        self._ctx = context

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._ctx.wrap_socket(self.sock, server_hostname=self._server_name)


def _rule_matches(rule: dict[str, Any], rt: ResourceType, attrs: Attributes) -> bool:
    ops = rule.get("operations") or []
    if "*" not in ops and attrs.operation not in ops:
        return False
    if not _listed(rule.get("apiGroups"), rt.group) or not _listed(rule.get("apiVersions"), rt.version):
        return False
    scope = rule.get("scope", "*")
    if scope == "Cluster" and rt.namespaced or scope == "Namespaced" and not rt.namespaced:
        return False
    for res in rule.get("resources") or []:
        base, _, sub = res.partition("/")
        if base == "*" and sub == "*":
            return True
        if sub == "*":
            if base == rt.plural:
                return True
            continue
        if (base == "*" or base == rt.plural) and sub == attrs.subresource:
            return True
    return False


def _listed(values: list[str] | None, value: str) -> bool:
    return bool(values) and ("*" in values or value in values)


def _denial(name: str, status: dict[str, Any]) -> APIError:
    code = status.get("code") if isinstance(status.get("code"), int) else 0
    message = status.get("message") or ""
    text = f'admission webhook "{name}" denied the request: {message}' if message else \
        f'admission webhook "{name}" denied the request without explanation'
    return APIError(code if code >= 400 else 400, text, status.get("reason") or "")
