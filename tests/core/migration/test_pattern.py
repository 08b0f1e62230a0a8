"""Validate patterns written as CEL decide as verno's own pattern engine does (the oracle), resource by
resource; conditional anchors at the top become match conditions (not met: skip)."""
from __future__ import annotations

import pytest

from verno.core.cel import Activation, environment_for
from verno.core.migration import Untranslatable
from verno.core.migration.pattern import glob_regex, translate_pattern
from verno.core.pattern.matcher import match_pattern

ENV = environment_for("ValidatingPolicy")


def pod(name="p", labels=None, host_network=None, **container):
    spec = {"containers": [{"name": "app", "image": "nginx:1.25", **container}]}
    if host_network is not None:
        spec["hostNetwork"] = host_network
    meta = {"name": name}
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


RESOURCES = [
    pod(),
    pod(labels={"app": "web", "team": ""}),
    pod(labels={"app.kubernetes.io/name": "x"}, host_network=True),
    pod(image="nginx:latest"),
    pod(image="registry.example.com/app@sha256:abc"),
    pod(resources={"limits": {"memory": "1Gi", "cpu": "500m"}}),
    pod(resources={"limits": {"memory": "4Gi", "cpu": 2}}),
    pod(resources={"limits": {"memory": 1024}}),
    pod(securityContext={"privileged": True, "runAsNonRoot": False}),
    pod(securityContext={"privileged": False}),
    pod(securityContext={"runAsUser": 0}),
    pod(ports=[{"containerPort": 80}, {"containerPort": 8080, "hostPort": 8080}]),
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare"}, "spec": {}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "odd"}, "spec": {"containers": "not-a-list"}},
]

PATTERNS = [
    {"spec": {"containers": [{"image": "!*:latest"}]}},
    {"spec": {"containers": [{"image": "*:*"}]}},
    {"spec": {"containers": [{"image": "registry.example.com/* | nginx:*"}]}},
    {"metadata": {"labels": {"app": "?*"}}},
    {"metadata": {"labels": {"team": "?*"}}},
    {"metadata": {"labels": {"app.kubernetes.io/name": "?*"}}},
    {"spec": {"=(hostNetwork)": False}},
    {"spec": {"X(hostNetwork)": "null"}},
    {"spec": {"containers": [{"resources": {"limits": {"memory": "<=2Gi", "cpu": "?*"}}}]}},
    {"spec": {"containers": [{"resources": {"limits": {"memory": "1Gi-3Gi"}}}]}},
    {"spec": {"containers": [{"=(resources)": {"=(limits)": {"=(memory)": ">512Mi"}}}]}},
    {"spec": {"containers": [{"=(securityContext)": {"=(privileged)": False}}]}},
    {"spec": {"containers": [{"=(securityContext)": {"=(runAsUser)": ">0"}}]}},
    {"spec": {"containers": [{"(image)": "nginx:*", "=(securityContext)": {"=(privileged)": "false"}}]}},
    {"spec": {"containers": [{"=(ports)": [{"=(hostPort)": 0}]}]}},
    {"spec": {"^(containers)": [{"name": "app"}]}},
    {"metadata": {"(labels)": {"app": "web"}}, "spec": {"containers": [{"image": "nginx:*"}]}},
    {"spec": {"containers": [{"name": "*"}]}},
    {"spec": {"template": {"(x)": "y"}}},
    {"spec": {"containers": [{"(securityContext)": {"runAsUser": 0}, "name": "app"}]}},
]


def _kyverno(resource, pattern):
    return match_pattern(resource, pattern).status


def _migrated(resource, pattern):
    expression, conditions = translate_pattern(pattern)
    activation = Activation({"object": resource})
    if any(ENV.compile(c).evaluate(activation) is not True for c in conditions):
        return "skip"
    return "pass" if ENV.compile(expression).evaluate(Activation({"object": resource})) is True else "fail"


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: str(p)[:60])
def test_the_translation_decides_as_the_pattern_engine(pattern):
    for resource in RESOURCES:
        expected = _kyverno(resource, pattern)
        if expected == "error":  # Kyverno's "field not found" errors are failures for a ValidatingPolicy
            expected = "fail"
        assert _migrated(resource, pattern) == expected, (resource, pattern)


@pytest.mark.parametrize("pattern, words", [
    ({"metadata": {"labels": {"app.*/name": "?*"}}}, "wildcard key"),
    ({"spec": {"containers": [{"+(imagePullPolicy)": "IfNotPresent"}]}}, "mutate anchor"),
    ({"spec": {"containers": [{"image": "{{ request.object.metadata.name }}"}]}}, "variable"),
    ({"spec": {"activeDeadlineSeconds": ">1h"}}, "duration"),
    ({"spec": {"containers": [{"<(name)": "app"}]}}, "global anchor below the top"),
])
def test_what_has_no_faithful_translation_says_why(pattern, words):
    with pytest.raises(Untranslatable, match=words):
        translate_pattern(pattern)


def test_glob_regex():
    assert glob_regex("a*b?c.d") == "(?s)^a.*b.c\\.d$"
