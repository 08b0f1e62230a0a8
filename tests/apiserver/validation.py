"""What the API server validates before it stores an object: metadata (names, labels, annotations, owner
references), CustomResourceDefinitions and webhook configurations. Errors are (field, message) pairs in the
API server's field.ErrorList wording; the caller turns them into 422 Invalid."""
from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import urlparse

from . import cel
from .resources import ResourceType

SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                 "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
                 "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
             "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
Errors = list[tuple[str, str]]


def metadata(obj: dict[str, Any], rt: ResourceType) -> Errors:
    meta = obj.get("metadata") or {}
    errs: Errors = []
    name = meta.get("name") or ""
    dns_label = rt.plural in ("namespaces",)
    if not name:
        errs.append(("metadata.name", "Required value: name or generateName is required"))
    elif dns_label and (len(name) > 63 or not LABEL.match(name)):
        errs.append(("metadata.name", f'Invalid value: "{name}": {LABEL_MSG}'))
    elif len(name) > 253 or not SUBDOMAIN.match(name):
        if not (rt.builtin and rt.plural in ("clusterroles", "clusterrolebindings", "roles", "rolebindings")):
            errs.append(("metadata.name", f'Invalid value: "{name}": {SUBDOMAIN_MSG}'))
    for field in ("labels", "annotations"):
        values = meta.get(field)
        if values is None:
            continue
        if not isinstance(values, dict):
            errs.append((f"metadata.{field}", "Invalid value: must be a map of strings"))
            continue
        for key, value in values.items():
            errs.extend(_qualified_key(f"metadata.{field}", key))
            if not isinstance(value, str):
                errs.append((f"metadata.{field}", f'Invalid value: "{value}": must be a string'))
            elif field == "labels" and value and (len(value) > 63 or not QUALIFIED.match(value)):
                errs.append(("metadata.labels", f'Invalid value: "{value}": a valid label must be an empty string or '
                             "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                             "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
                             "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"))
    for i, ref in enumerate(meta.get("ownerReferences") or []):
        for key in ("apiVersion", "kind", "name", "uid"):
            if not (ref or {}).get(key):
                errs.append((f"metadata.ownerReferences[{i}].{key}", "Invalid value: \"\": "
                             f"{key} must not be empty" if key != "uid" else "Invalid value: \"\": uid must not be empty"))
    return errs


def _qualified_key(field: str, key: str) -> Errors:
    prefix, _, name = key.rpartition("/")
    if (prefix and (len(prefix) > 253 or not SUBDOMAIN.match(prefix))) or not name or len(name) > 63 \
            or not QUALIFIED.match(name):
        return [(field, f'Invalid value: "{key}": name part must consist of alphanumeric characters, \'-\', \'_\' or '
                 "'.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
                 "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")]
    return []


JSONPATH = re.compile(r"^(\.[A-Za-z0-9_-]+|\[\d+\]|\[\?\(@\.[A-Za-z0-9_.-]+\s*==\s*(\"[^\"]*\"|'[^']*')\)\])+$")


def crd(obj: dict[str, Any]) -> Errors:
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    errs: Errors = []
    group = spec.get("group") or ""
    if not group:
        errs.append(("spec.group", "Required value"))
    elif "." not in group or not SUBDOMAIN.match(group):
        errs.append(("spec.group", f'Invalid value: "{group}": should be a domain with at least one dot'))
    for key in ("plural", "kind"):
        if not names.get(key):
            errs.append((f"spec.names.{key}", "Required value"))
    if names.get("plural") and not LABEL.match(names["plural"]):
        errs.append(("spec.names.plural", f'Invalid value: "{names["plural"]}": {LABEL_MSG}'))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        errs.append(("spec.scope", f'Unsupported value: "{spec.get("scope", "")}": supported values: "Cluster", '
                     '"Namespaced"'))
    versions = spec.get("versions") or []
    if not versions:
        errs.append(("spec.versions", "Invalid value: null: must have exactly one version marked as storage "
                     "version"))
    elif sum(1 for v in versions if v.get("storage")) != 1:
        errs.append(("spec.versions", "Invalid value: must have exactly one version marked as storage version"))
    for i, v in enumerate(versions):
        if not v.get("name") or not LABEL.match(v["name"]):
            errs.append((f"spec.versions[{i}].name", f'Invalid value: "{v.get("name", "")}": {LABEL_MSG}'))
        for j, col in enumerate(v.get("additionalPrinterColumns") or []):
            path = col.get("jsonPath") or ""
            if not JSONPATH.match(path):
                errs.append((f"spec.versions[{i}].additionalPrinterColumns[{j}].jsonPath",
                             f'Invalid value: "{path}": this stand-in evaluates only .field, [n] and '
                             '[?(@.field=="value")] paths'))
        for j, sel in enumerate(v.get("selectableFields") or []):
            if not re.fullmatch(r"(\.[A-Za-z0-9_-]+)+", sel.get("jsonPath") or ""):
                errs.append((f"spec.versions[{i}].selectableFields[{j}].jsonPath",
                             f'Invalid value: "{sel.get("jsonPath", "")}": must be a simple field path'))
    name = (obj.get("metadata") or {}).get("name")
    if names.get("plural") and group and name != f"{names['plural']}.{group}":
        errs.append(("metadata.name", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'))
    return errs


def webhook_configuration(obj: dict[str, Any], mutating: bool) -> Errors:
    errs: Errors = []
    seen: set[str] = set()
    for i, hook in enumerate(obj.get("webhooks") or []):
        at = f"webhooks[{i}]"
        name = hook.get("name") or ""
        if not name:
            errs.append((f"{at}.name", "Required value"))
        elif len(name.split(".")) < 3 or not SUBDOMAIN.match(name):
            errs.append((f"{at}.name", f'Invalid value: "{name}": should be a domain with at least three segments '
                         "separated by dots"))
        elif name in seen:
            errs.append((f"{at}.name", f'Duplicate value: "{name}"'))
        seen.add(name)
        cc = hook.get("clientConfig") or {}
        if bool(cc.get("url")) == bool(cc.get("service")):
            errs.append((f"{at}.clientConfig", "Required value: exactly one of url or service is required"))
        if cc.get("url"):
            u = urlparse(cc["url"])
            if u.scheme != "https":
                errs.append((f"{at}.clientConfig.url", f'Invalid value: "{cc["url"]}": \'https\' is the only allowed '
                             "URL scheme"))
            if u.query or u.fragment:
                errs.append((f"{at}.clientConfig.url", f'Invalid value: "{cc["url"]}": query and fragment parameters '
                             "are not allowed"))
        if cc.get("service") and not (cc["service"].get("name") and cc["service"].get("namespace")):
            errs.append((f"{at}.clientConfig.service", "Required value: service name and namespace are required"))
        if cc.get("caBundle"):
            try:
                base64.b64decode(cc["caBundle"], validate=True)
            except ValueError:
                errs.append((f"{at}.clientConfig.caBundle", "Invalid value: not base64"))
        if hook.get("failurePolicy", "Fail") not in ("Fail", "Ignore"):
            errs.append((f"{at}.failurePolicy", f'Unsupported value: "{hook["failurePolicy"]}": supported values: '
                         '"Fail", "Ignore"'))
        if hook.get("sideEffects") not in ("None", "NoneOnDryRun"):
            errs.append((f"{at}.sideEffects", f'Unsupported value: "{hook.get("sideEffects", "")}": supported values: '
                         '"None", "NoneOnDryRun"'))
        if "v1" not in (hook.get("admissionReviewVersions") or []):
            errs.append((f"{at}.admissionReviewVersions", "Invalid value: must include at least one of v1"))
        timeout = hook.get("timeoutSeconds", 10)
        if not isinstance(timeout, int) or not 1 <= timeout <= 30:
            errs.append((f"{at}.timeoutSeconds", f"Invalid value: {timeout}: the timeout value must be between 1 "
                         "and 30 seconds"))
        if hook.get("matchPolicy", "Equivalent") not in ("Equivalent", "Exact"):
            errs.append((f"{at}.matchPolicy", f'Unsupported value: "{hook["matchPolicy"]}"'))
        policy = hook.get("reinvocationPolicy", "Never")
        if mutating and policy not in ("Never", "IfNeeded"):
            errs.append((f"{at}.reinvocationPolicy", f'Unsupported value: "{policy}": supported values: '
                         '"IfNeeded", "Never"'))
        for j, rule in enumerate(hook.get("rules") or []):
            for op in rule.get("operations") or []:
                if op not in ("CREATE", "UPDATE", "DELETE", "CONNECT", "*"):
                    errs.append((f"{at}.rules[{j}].operations", f'Unsupported value: "{op}"'))
            if rule.get("scope", "*") not in ("Cluster", "Namespaced", "*"):
                errs.append((f"{at}.rules[{j}].scope", f'Unsupported value: "{rule["scope"]}"'))
        for sel in ("namespaceSelector", "objectSelector"):
            for j, expr in enumerate((hook.get(sel) or {}).get("matchExpressions") or []):
                if expr.get("operator") not in ("In", "NotIn", "Exists", "DoesNotExist"):
                    errs.append((f"{at}.{sel}.matchExpressions[{j}].operator",
                                 f'Invalid value: "{expr.get("operator")}": not a valid selector operator'))
        conditions = hook.get("matchConditions") or []
        if len(conditions) > 64:
            errs.append((f"{at}.matchConditions", f"Too many: {len(conditions)}: must have at most 64 items"))
        for j, cond in enumerate(conditions):
            try:
                cel.compile_expression(cond.get("expression") or "")
            except cel.CELError as exc:
                errs.append((f"{at}.matchConditions[{j}].expression",
                             f'Invalid value: "{cond.get("expression", "")}": compilation failed: {exc}'))
    return errs
