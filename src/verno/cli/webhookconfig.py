"""``verno webhook-config``: the Mutating/ValidatingWebhookConfiguration for a policy set.

As Kyverno does, policies are grouped into one webhook per failure policy (``validate.<svc>.svc-fail``
on ``/validate/fail``, ``...-ignore`` on ``/validate/ignore``; the same for ``mutate``), with the largest
timeout of its policies. A policy with ``webhookConfiguration.matchConditions`` gets a webhook of its own
(``...-fail-finegrained-<policy>`` on ``/validate/fail/finegrained/<policy>``), since match conditions
apply to a whole webhook.
"""
from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import yaml

from verno.cli.webhookrules import MUTATE_DEFAULT_OPS, VALIDATE_DEFAULT_OPS, Entry, build_rules, rule_entries
from verno.core.errors import VernoError
from verno.core.prepare import PreparedPolicy, PreparedRule

DEFAULT_TIMEOUT = 10
DEFAULT_EXCLUDED_NAMESPACES = ("kube-system",)
NAMESPACE_LABEL = "kubernetes.io/metadata.name"


class WebhookConfigError(VernoError):
    """The webhook configuration cannot be built (bad CA bundle, bad kind selector)."""


@dataclass
class Webhook:
    """One webhook of a configuration: the policies sharing a failure policy (and match conditions)."""

    failure_policy: str
    policy: str = ""  # set for a fine-grained (per-policy) webhook
    timeout: int = 0
    match_conditions: list[dict[str, Any]] | None = None
    entries: set[Entry] = field(default_factory=set)

    def suffix(self) -> tuple[str, str]:
        """(name suffix, path suffix)."""
        fp = self.failure_policy.lower()
        if not self.policy:
            return f"-{fp}", f"/{fp}"
        return f"-{fp}-finegrained-{self.policy.replace('/', '-')}", f"/{fp}/finegrained/{self.policy}"


def failure_policy(prepared: PreparedPolicy) -> str:
    spec = prepared.policy.spec
    if spec.webhook_configuration is not None and spec.webhook_configuration.failure_policy:
        return spec.webhook_configuration.failure_policy
    return spec.failure_policy or "Fail"


def timeout_seconds(prepared: PreparedPolicy) -> int:
    """The policy's webhook timeout, within the 1..30 s the API server accepts."""
    spec = prepared.policy.spec
    if spec.webhook_configuration is not None and spec.webhook_configuration.timeout_seconds:
        seconds = spec.webhook_configuration.timeout_seconds
    else:
        seconds = spec.webhook_timeout_seconds or DEFAULT_TIMEOUT
    return min(max(seconds, 1), 30)


def match_conditions(prepared: PreparedPolicy) -> list[dict[str, Any]] | None:
    wc = prepared.policy.spec.webhook_configuration
    return list(wc.match_conditions) if wc is not None and wc.match_conditions else None


def is_mutating(rule: PreparedRule) -> bool:
    """Rules the mutating webhook serves: mutate (not mutateExisting) and verifyImages."""
    if rule.kind == "mutate":
        return not (rule.rule.mutate is not None and rule.rule.mutate.targets)
    return rule.kind == "verifyImages"


def is_validating(rule: PreparedRule) -> bool:
    """Rules the validating webhook serves: validate, verifyImages, generate and mutateExisting."""
    return rule.kind in ("validate", "verifyImages", "generate") or (
        rule.kind == "mutate" and rule.rule.mutate is not None and bool(rule.rule.mutate.targets))


def kind_policy_entries(policy: Any, default_ops: frozenset[str]) -> set[Entry]:
    """What a policy of another kind (ValidatingPolicy, VAP ...) selects: its ``matchConstraints``
    resource rules (Kubernetes' MatchResources), operations ``*`` expanded; none selects every resource."""
    spec = (policy.document.get("spec") or {}) if isinstance(policy.document, dict) else {}
    constraints = spec.get("matchConstraints") or {}
    rules = constraints.get("resourceRules") or [{"apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}]
    scope_default = "Namespaced" if policy.namespace else "*"
    out: set[Entry] = set()
    for rule in rules:
        ops = [str(o) for o in rule.get("operations") or default_ops]
        ops = sorted(default_ops | {"CONNECT"}) if "*" in ops else ops
        for group in rule.get("apiGroups") or ["*"]:
            for version in rule.get("apiVersions") or ["*"]:
                for resource in rule.get("resources") or ["*"]:
                    res, _, sub = str(resource).partition("/")
                    for op in ops:
                        out.add(Entry(str(group), str(version), res, sub, str(rule.get("scope") or scope_default),
                                      op))
    return out


def build_kind_webhooks(kinds: Iterable[Any], stage_of: Any, *, mutating: bool) -> list[Webhook]:
    """Webhooks for policies of other kinds, merged by failure policy like ClusterPolicies' shared ones."""
    from verno.core.policykinds import STAGES

    wanted = STAGES[:2] if mutating else STAGES[2:4]
    default_ops = MUTATE_DEFAULT_OPS if mutating else VALIDATE_DEFAULT_OPS
    shared: dict[str, Webhook] = {}
    for policy in kinds:
        if not policy.admission or stage_of(policy) not in wanted:
            continue
        fp = "Ignore" if policy.failure_policy == "Ignore" else "Fail"
        wh = shared.setdefault(fp, Webhook(fp))
        spec = policy.document.get("spec") or {}
        timeout = (spec.get("webhookConfiguration") or {}).get("timeoutSeconds") or DEFAULT_TIMEOUT
        wh.timeout = max(wh.timeout, min(max(int(timeout), 1), 30))
        wh.entries |= kind_policy_entries(policy, default_ops)
    return [shared[fp] for fp in ("Fail", "Ignore") if fp in shared]


def merge_webhooks(first: list[Webhook], more: list[Webhook]) -> list[Webhook]:
    """Shared webhooks of the same failure policy become one (the API server calls the same path)."""
    out = list(first)
    for wh in more:
        same = next((w for w in out if not w.policy and w.failure_policy == wh.failure_policy), None)
        if same is None:
            out.append(wh)
        else:
            same.entries |= wh.entries
            same.timeout = max(same.timeout, wh.timeout)
    shared = [w for w in out if not w.policy]
    return sorted(shared, key=lambda w: w.failure_policy) + [w for w in out if w.policy]


def build_webhooks(policies: Iterable[PreparedPolicy], *, mutating: bool) -> list[Webhook]:
    """The webhooks of one configuration, in a stable order (shared ones first, Fail before Ignore)."""
    wanted = is_mutating if mutating else is_validating
    default_ops = MUTATE_DEFAULT_OPS if mutating else VALIDATE_DEFAULT_OPS
    shared: dict[str, Webhook] = {}
    fine: list[Webhook] = []
    for prepared in policies:
        if not prepared.policy.spec.admission:
            continue
        rules = [r for r in prepared.rules if wanted(r)]
        if not rules:
            continue
        fp, timeout, conditions = failure_policy(prepared), timeout_seconds(prepared), match_conditions(prepared)
        if conditions:
            wh = Webhook(fp, prepared.policy.key, timeout, conditions)
            fine.append(wh)
        else:
            wh = shared.setdefault(fp, Webhook(fp))
            wh.timeout = max(wh.timeout, timeout)
        scope = "Namespaced" if prepared.policy.namespace else "*"
        for rule in rules:
            try:
                wh.entries |= rule_entries(rule, default_ops, scope)
            except ValueError as exc:
                raise WebhookConfigError(f"policy {prepared.policy.key}, rule {rule.name}: {exc}") from None
    out = [shared[fp] for fp in ("Fail", "Ignore") if fp in shared]
    out += sorted(fine, key=lambda w: (w.failure_policy, w.policy))
    return [w for w in out if w.entries]


@dataclass(frozen=True)
class Service:
    name: str
    namespace: str
    port: int
    ca_bundle: str  # base64
    excluded_namespaces: tuple[str, ...]


def namespace_selector(service: Service) -> dict[str, Any]:
    values = list(dict.fromkeys([*DEFAULT_EXCLUDED_NAMESPACES, service.namespace, *service.excluded_namespaces]))
    return {"matchExpressions": [{"key": NAMESPACE_LABEL, "operator": "NotIn", "values": values}]}


def webhook_dict(wh: Webhook, service: Service, *, mutating: bool) -> dict[str, Any]:
    kind = "mutate" if mutating else "validate"
    name_suffix, path_suffix = wh.suffix()
    out: dict[str, Any] = {
        "name": f"{kind}.{service.name}.svc{name_suffix}",
        "admissionReviewVersions": ["v1"],
        "clientConfig": {
            "service": {"name": service.name, "namespace": service.namespace,
                        "path": f"/{kind}{path_suffix}", "port": service.port},
            "caBundle": service.ca_bundle,
        },
        "failurePolicy": wh.failure_policy,
        "matchPolicy": "Equivalent",
        "namespaceSelector": namespace_selector(service),
        "rules": [r.to_dict() for r in build_rules(wh.entries)],
        "sideEffects": "None",
        "timeoutSeconds": wh.timeout or DEFAULT_TIMEOUT,
    }
    if wh.match_conditions:
        out["matchConditions"] = wh.match_conditions
    if mutating:
        out["reinvocationPolicy"] = "IfNeeded"
    return out


def catch_all_webhook(*, mutating: bool) -> Webhook:
    """Every resource (no subresources) with Ignore: for policies only known at run time (a cluster)."""
    ops = MUTATE_DEFAULT_OPS if mutating else VALIDATE_DEFAULT_OPS
    return Webhook("Ignore", timeout=DEFAULT_TIMEOUT, entries={Entry("*", "*", "*", "", "*", op) for op in ops})


def webhook_configurations(policies: list[PreparedPolicy] | None, service: Service, kinds: Iterable[Any] = (),
                           stage_of: Any = None) -> list[dict[str, Any]]:
    """The MutatingWebhookConfiguration (if any rule mutates) and ValidatingWebhookConfiguration (if any
    rule validates) for the policies and the policies of other kinds (``kinds``, staged by ``stage_of``);
    with ``policies=None``, catch-all webhooks of both kinds."""
    docs = []
    kinds = list(kinds)
    for mutating, kind, word in ((True, "MutatingWebhookConfiguration", "mutating"),
                                 (False, "ValidatingWebhookConfiguration", "validating")):
        if policies is None:
            hooks = [catch_all_webhook(mutating=mutating)]
        else:
            hooks = build_webhooks(policies, mutating=mutating)
            if kinds:
                hooks = [w for w in merge_webhooks(hooks, build_kind_webhooks(kinds, stage_of, mutating=mutating))
                         if w.entries]
        if not hooks:
            continue
        docs.append({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": kind,
            "metadata": {"name": f"{service.name}-resource-{word}-webhook-cfg",
                         "labels": {"app.kubernetes.io/managed-by": "verno",
                                    "app.kubernetes.io/name": service.name}},
            "webhooks": [webhook_dict(w, service, mutating=mutating) for w in hooks],
        })
    return docs


def read_ca_bundle(path: str) -> str:
    """base64 of a PEM file holding at least one certificate."""
    from cryptography import x509

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise WebhookConfigError(f"{path}: cannot read the CA bundle: {exc.strerror or exc}") from None
    try:
        x509.load_pem_x509_certificates(data)
    except ValueError:
        raise WebhookConfigError(f"{path}: not a PEM certificate bundle") from None
    return base64.b64encode(data).decode("ascii")


@click.command("webhook-config")
@click.option("--service", required=True, help="name of the Service in front of verno serve")
@click.option("--namespace", required=True, help="namespace of that Service (excluded from the webhooks)")
@click.option("--ca-bundle", "ca_bundle", required=True, type=click.Path(dir_okay=False),
              help="PEM file of the CA that signed the serving certificate")
@click.option("--policies", "policies", multiple=True, type=click.Path(),
              help="policy file or directory (repeatable)")
@click.option("--port", default=443, show_default=True, type=click.IntRange(1, 65535), help="Service port")
@click.option("--exclude-namespace", "exclude", multiple=True,
              help="another namespace the API server never sends (repeatable)")
def webhook_config_command(service: str, namespace: str, ca_bundle: str, policies: tuple[str, ...],
                           port: int, exclude: tuple[str, ...]) -> None:
    """Print the Mutating/ValidatingWebhookConfiguration for the policies, as multi-document YAML.

    Without --policies, catch-all webhooks (every resource, failurePolicy Ignore) are printed, for a
    server that watches its policies in the cluster."""
    from verno.core.engine import Engine
    from verno.core.policyset import load_policy_set

    bundle = read_ca_bundle(ca_bundle)
    engine = Engine()
    loaded = load_policy_set(engine, policies) if policies else None
    svc = Service(service, namespace, port, bundle, tuple(exclude))
    docs = webhook_configurations(loaded.policies if loaded else None, svc,
                                  loaded.kind_policies if loaded else (), engine.stage_of)
    if not docs:
        click.echo("no policy needs an admission webhook: nothing to print", err=True)
        return
    click.echo(yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False), nl=False)
