"""Create, update, patch and delete as the API server runs them: body checks, mutating admission, system fields,
validation, validating admission, then the commit (or nothing, for `dryRun=All`)."""
from __future__ import annotations

import copy
import json
import random
import uuid
from typing import Any

import yaml

from . import patching, validation
from .admission import Admission, Attributes
from .resources import CRD, NAMESPACES, WEBHOOK_CONFIGS, ResourceType
from .status import bad_request, conflict, forbidden, internal, invalid, not_found
from .store import IMMORTAL_NAMESPACES, Stale, Store, now

GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
SERVER_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation",
               "resourceVersion", "selfLink")
RETRIES = 20


class Operations:
    def __init__(self, store: Store, admission: Admission) -> None:
        self.store = store
        self.admission = admission

    # -- create --------------------------------------------------------------------------------------------
    def create(self, rt: ResourceType, namespace: str, body: Any, dry_run: bool, user: dict,
               warnings: list[str]) -> dict[str, Any]:
        obj = self._checked_body(rt, namespace, body)
        meta = obj["metadata"]
        if meta.get("resourceVersion"):
            raise internal("resourceVersion should not be set on objects to be created")
        if not meta.get("name") and not meta.get("generateName"):
            raise invalid(rt.kind, rt.group, "", [("metadata.name",
                                                  "Required value: name or generateName is required")])
        if rt.namespaced:
            self.store.check_namespace_open(rt, namespace, meta.get("name", ""))
        for k in SERVER_META:
            meta.pop(k, None)
        if rt.status:
            obj.pop("status", None)
        self._defaults(rt, obj, None)
        attrs = Attributes(rt, "CREATE", meta.get("name", ""), namespace, obj, None, dry_run,
                           {}, user)
        obj = self.admission.mutate(attrs)
        obj = self._forced(rt, namespace, obj, None)
        meta = obj["metadata"]
        if not meta.get("name"):
            meta["name"] = meta.get("generateName", "") + "".join(random.choices(GENERATE_ALPHABET, k=5))
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        if rt.generation:
            meta["generation"] = 1
        if rt.group_resource == CRD:
            _crd_status(obj)
            meta["finalizers"] = list(dict.fromkeys([*(meta.get("finalizers") or []),
                                                     "customresourcecleanup.apiextensions.k8s.io"]))
        self._validate(rt, obj)
        attrs.obj, attrs.name = obj, meta["name"]
        self.admission.validate(attrs)
        warnings.extend(attrs.warnings)
        if dry_run:
            return obj
        return self.store.create(rt, obj)

    # -- update and patch ----------------------------------------------------------------------------------
    def update(self, rt: ResourceType, namespace: str, name: str, sub: str, body: Any, dry_run: bool,
               user: dict, warnings: list[str]) -> dict[str, Any]:
        obj = self._checked_body(rt, namespace, body)
        if obj["metadata"].get("name") != name:
            raise bad_request(f"the name of the object ({obj['metadata'].get('name', '')}) does not match the name "
                              f"on the URL ({name})")
        precondition = obj["metadata"].get("resourceVersion") or ""
        for _ in range(RETRIES):
            current = self._current(rt, namespace, name)
            if precondition and precondition != current["metadata"]["resourceVersion"]:
                raise conflict(rt.plural, rt.group, name)
            try:
                return self._write(rt, sub, current, copy.deepcopy(obj), dry_run, user, warnings)
            except Stale:
                if precondition:
                    raise conflict(rt.plural, rt.group, name) from None
        raise conflict(rt.plural, rt.group, name)

    def patch(self, rt: ResourceType, namespace: str, name: str, sub: str, raw: bytes, content_type: str,
              query: dict[str, str], dry_run: bool, user: dict, warnings: list[str]) -> tuple[dict[str, Any], bool]:
        """Returns the result and whether it was created (server-side apply of a missing object)."""
        kind = content_type.split(";")[0].strip().lower()
        if kind not in (patching.JSON_PATCH, patching.MERGE_PATCH, patching.STRATEGIC, patching.APPLY):
            raise patching.UNSUPPORTED
        if kind == patching.STRATEGIC and not rt.builtin:
            raise patching.UNSUPPORTED
        if kind == patching.APPLY and not query.get("fieldManager"):
            raise invalid("PatchOptions", "meta.k8s.io", "", [("fieldManager",
                                                              "Required value: is required for apply patch")])
        try:
            patch = yaml.safe_load(raw) if kind == patching.APPLY else _json(raw)
        except yaml.YAMLError as exc:
            raise bad_request(f"error decoding YAML: {exc}") from None
        for _ in range(RETRIES):
            current = self.store.get(rt.group_resource, (namespace if rt.namespaced else "", name))
            if current is None:
                if kind != patching.APPLY:
                    raise not_found(rt.plural, rt.group, name)
                body = patching.apply_patch(None, patch, rt.builtin)
                body.setdefault("metadata", {}).setdefault("name", name)
                return self.create(rt, namespace, body, dry_run, user, warnings), True
            base = _present(current, rt)
            if kind == patching.JSON_PATCH:
                patched = patching.json_patch(base, patch)
            elif kind == patching.MERGE_PATCH:
                patched = patching.merge_patch(base, patch)
            elif kind == patching.STRATEGIC:
                patched = patching.strategic_merge_patch(base, patch)
            else:
                patched = patching.apply_patch(base, patch, rt.builtin)
            if not isinstance(patched, dict):
                raise bad_request("the patch did not produce an object")
            patched = self._checked_body(rt, namespace, patched)
            if patched["metadata"].get("name") != name:
                raise bad_request(f"the name of the object ({patched['metadata'].get('name', '')}) does not match "
                                  f"the name on the URL ({name})")
            wanted_rv = patched["metadata"].get("resourceVersion") or ""
            if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
                raise conflict(rt.plural, rt.group, name)
            try:
                return self._write(rt, sub, current, patched, dry_run, user, warnings), False
            except Stale:
                continue
        raise conflict(rt.plural, rt.group, name)

    def _write(self, rt: ResourceType, sub: str, current: dict[str, Any], obj: dict[str, Any], dry_run: bool,
               user: dict, warnings: list[str]) -> dict[str, Any]:
        namespace = current["metadata"].get("namespace") or ""
        if sub == "status":
            new = copy.deepcopy(current)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
            obj = new
        elif sub == "finalize":
            new = copy.deepcopy(current)
            new.setdefault("spec", {})["finalizers"] = (obj.get("spec") or {}).get("finalizers") or []
            obj = new
        elif rt.status:
            if "status" in current:
                obj["status"] = copy.deepcopy(current["status"])
            else:
                obj.pop("status", None)
        if sub != "finalize" and rt.group_resource == NAMESPACES:
            obj.setdefault("spec", {})["finalizers"] = (current.get("spec") or {}).get("finalizers") or []
        obj = self._forced(rt, namespace, obj, current)
        self._check_finalizers(rt, obj, current)
        attrs = Attributes(rt, "UPDATE", current["metadata"]["name"], namespace if rt.namespaced else "", obj,
                           _present(current, rt), dry_run, {}, user, subresource=sub)
        obj = self._forced(rt, namespace, self.admission.mutate(attrs), current)
        self._check_finalizers(rt, obj, current)
        if rt.generation:
            obj["metadata"]["generation"] = current["metadata"].get("generation", 1) + (
                1 if _spec_part(obj, rt) != _spec_part(current, rt) else 0)
        if rt.group_resource == CRD:
            _crd_status(obj)
        self._validate(rt, obj)
        attrs.obj = obj
        self.admission.validate(attrs)
        warnings.extend(attrs.warnings)
        if dry_run:
            return obj
        return self.store.update(rt, obj, current["metadata"]["resourceVersion"])

    def _check_finalizers(self, rt: ResourceType, obj: dict[str, Any], current: dict[str, Any]) -> None:
        if not current["metadata"].get("deletionTimestamp"):
            return
        added = [f for f in obj["metadata"].get("finalizers") or []
                 if f not in (current["metadata"].get("finalizers") or [])]
        if added:
            listed = ", ".join(f'"{f}"' for f in added)
            raise invalid(rt.kind, rt.group, obj["metadata"]["name"], [(
                "metadata.finalizers", f"Forbidden: no new finalizers can be added if the object is being deleted, "
                f"found new finalizers []string{{{listed}}}")])

    # -- delete --------------------------------------------------------------------------------------------
    def delete(self, rt: ResourceType, namespace: str, name: str, options: dict[str, Any], dry_run: bool,
               user: dict, warnings: list[str]) -> tuple[dict[str, Any], bool]:
        propagation = options.get("propagationPolicy") or ("Orphan" if options.get("orphanDependents") else
                                                            "Background")
        if propagation not in ("Orphan", "Background", "Foreground"):
            raise invalid("DeleteOptions", "meta.k8s.io", "", [(
                "propagationPolicy", f'Unsupported value: "{propagation}": supported values: "Foreground", '
                '"Background", "Orphan", "nil"')])
        if rt.group_resource == NAMESPACES and name in IMMORTAL_NAMESPACES:
            raise forbidden("namespaces", "", name, "this namespace may not be deleted")
        pre = options.get("preconditions") or {}
        for _ in range(RETRIES):
            current = self._current(rt, namespace, name)
            meta = current["metadata"]
            if pre.get("uid") and pre["uid"] != meta["uid"]:
                raise conflict(rt.plural, rt.group, name, f"Precondition failed: UID in precondition: {pre['uid']}, "
                               f"UID in object meta: {meta['uid']}")
            if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
                raise conflict(rt.plural, rt.group, name, "Precondition failed: ResourceVersion in precondition: "
                               f"{pre['resourceVersion']}, ResourceVersion in object meta: {meta['resourceVersion']}")
            attrs = Attributes(rt, "DELETE", name, namespace if rt.namespaced else "", None,
                               _present(current, rt), dry_run, {k: v for k, v in options.items()
                                                                if k not in ("kind", "apiVersion")}, user)
            self.admission.mutate(attrs)
            self.admission.validate(attrs)
            warnings.extend(attrs.warnings)
            if dry_run:
                return current, False
            try:
                final, gone = self.store.delete(rt, (namespace if rt.namespaced else "", name),
                                                meta["resourceVersion"], propagation)
                return _present(final, rt), gone
            except Stale:
                continue
        raise conflict(rt.plural, rt.group, name)

    # -- helpers -------------------------------------------------------------------------------------------
    def _current(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        current = self.store.get(rt.group_resource, (namespace if rt.namespaced else "", name))
        if current is None:
            raise not_found(rt.plural, rt.group, name)
        return current

    def _checked_body(self, rt: ResourceType, namespace: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request(f"the body of the request is not a {rt.kind} object")
        obj = copy.deepcopy(body)
        api_version = obj.setdefault("apiVersion", rt.api_version) or rt.api_version
        kind = obj.setdefault("kind", rt.kind) or rt.kind  # the request's type fills in what the body omits
        if api_version != rt.api_version:
            raise bad_request(f"the API version in the data ({api_version}) does not match the expected API "
                              f"version ({rt.api_version})")
        if kind != rt.kind:
            raise bad_request(f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})")
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the "
                                  "request")
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        return obj

    def _defaults(self, rt: ResourceType, obj: dict[str, Any], current: dict[str, Any] | None) -> None:
        if rt.group_resource == NAMESPACES:
            obj.setdefault("spec", {})["finalizers"] = ["kubernetes"]
            obj["status"] = {"phase": "Active"}

    def _forced(self, rt: ResourceType, namespace: str, obj: Any, current: dict[str, Any] | None
                ) -> dict[str, Any]:
        """Fields the server owns, put back after a client or a webhook changed them."""
        obj = self._checked_body(rt, namespace, obj) if current is None else obj
        if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
            raise bad_request("the object has no metadata")
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        meta = obj["metadata"]
        if current is not None:
            cur = current["metadata"]
            if meta.get("uid") and meta["uid"] != cur["uid"]:
                raise conflict(rt.plural, rt.group, cur["name"], f"Precondition failed: UID in precondition: "
                               f"{meta['uid']}, UID in object meta: {cur['uid']}")
            if meta.get("name") != cur["name"]:
                raise bad_request(f"the name of the object ({meta.get('name', '')}) does not match the name on "
                                  f"the URL ({cur['name']})")
            for k in SERVER_META:
                if k in cur:
                    meta[k] = cur[k]
                else:
                    meta.pop(k, None)
            if rt.namespaced:
                meta["namespace"] = cur["namespace"]
        if rt.group_resource == NAMESPACES and meta.get("name"):
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        return obj

    def _validate(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        errs = validation.metadata(obj, rt)
        if rt.group_resource == CRD:
            errs += validation.crd(obj)
        elif rt.group_resource in WEBHOOK_CONFIGS:
            errs += validation.webhook_configuration(obj, rt.plural.startswith("mutating"))
        if errs:
            raise invalid(rt.kind, rt.group, obj["metadata"].get("name", ""), errs)


def _spec_part(obj: dict[str, Any], rt: ResourceType) -> dict[str, Any]:
    skip = {"metadata", "status"} if rt.status else {"metadata"}
    return {k: v for k, v in obj.items() if k not in skip}


def _present(obj: dict[str, Any], rt: ResourceType) -> dict[str, Any]:
    """The stored object as seen through the requested version."""
    out = copy.deepcopy(obj)
    out["apiVersion"] = rt.api_version
    return out


def _crd_status(crd: dict[str, Any]) -> None:
    spec = crd.get("spec") or {}
    names = dict(spec.get("names") or {})
    if names.get("kind"):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    stamp = now()
    storage = [v.get("name") for v in spec.get("versions") or [] if v.get("storage")]
    old = crd.get("status") or {}
    crd["status"] = {
        "acceptedNames": names,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found",
             "lastTransitionTime": stamp},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": stamp}],
        "storedVersions": list(dict.fromkeys([*(old.get("storedVersions") or []), *storage])),
    }
    if old.get("conditions"):
        crd["status"]["conditions"] = old["conditions"]


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise bad_request(f"error decoding patch: {exc}") from None

