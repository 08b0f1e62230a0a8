from __future__ import annotations

import pytest

from verno.core.kinds import compile_kinds, contains_kind, kind_of, parse_kind_selector


@pytest.mark.parametrize("selector,expected", [
    ("Pod", ("*", "*", "Pod", "")),
    ("v1/Pod", ("*", "v1", "Pod", "")),
    ("v2beta1/HorizontalPodAutoscaler", ("*", "v2beta1", "HorizontalPodAutoscaler", "")),
    ("*/Pod", ("*", "*", "Pod", "")),
    ("apps/v1/Deployment", ("apps", "v1", "Deployment", "")),
    ("Pod/exec", ("*", "*", "Pod", "exec")),
    ("Pod.exec", ("*", "*", "Pod", "exec")),
    ("*/scale", ("*", "*", "*", "scale")),
    ("v1/Pod/status", ("*", "v1", "Pod", "status")),
    ("apps/v1/Deployment/scale", ("apps", "v1", "Deployment", "scale")),
    ("apps/v1/Deployment.scale", ("apps", "v1", "Deployment", "scale")),
    ("*/*", ("*", "*", "*", "*")),
    ("a/b/c/d/e", ("", "", "", "")),
    ("networking.k8s.io/v1/Ingress", ("networking.k8s.io", "v1", "Ingress", "")),
])
def test_parse(selector, expected):
    assert parse_kind_selector(selector) == expected


def test_plain_kind_matches_any_group_version_but_not_subresources():
    pred = compile_kinds(["Pod"])
    assert pred("", "v1", "Pod", "")
    assert not pred("", "v1", "Pod", "exec")
    assert not pred("", "v1", "Service", "")


def test_pod_matches_ephemeralcontainers():
    pred = compile_kinds(["Pod"])
    assert pred("", "v1", "Pod", "ephemeralcontainers")
    assert not compile_kinds(["Deployment"])("apps", "v1", "Deployment", "ephemeralcontainers")


def test_group_version_selectors():
    pred = compile_kinds(["apps/v1/Deployment"])
    assert pred("apps", "v1", "Deployment", "")
    assert not pred("extensions", "v1beta1", "Deployment", "")
    assert compile_kinds(["v1/Pod"])("", "v1", "Pod", "")
    assert not compile_kinds(["v2/Pod"])("", "v1", "Pod", "")


def test_wildcards_in_every_part():
    assert compile_kinds(["*"])("x", "v9", "Anything", "")
    assert not compile_kinds(["*"])("", "v1", "Pod", "exec")
    assert compile_kinds(["*/*"])("", "v1", "Pod", "exec")
    assert compile_kinds(["*/scale"])("apps", "v1", "Deployment", "scale")
    assert compile_kinds(["Config*"])("", "v1", "ConfigMap", "")
    assert compile_kinds(["*.k8s.io/v1/*"])("networking.k8s.io", "v1", "Ingress", "")


def test_subresource_selectors():
    pred = compile_kinds(["Pod/exec", "Deployment"])
    assert pred("", "v1", "Pod", "exec")
    assert not pred("", "v1", "Pod", "")
    assert pred("apps", "v1", "Deployment", "")


def test_contains_kind_and_kind_of():
    assert kind_of("apps/v1/Deployment/scale") == "Deployment"
    assert kind_of("v1/Pod") == "Pod"
    assert kind_of("Pod.exec") == "Pod"
    assert contains_kind(["v1/Pod", "Service"], "Pod")
    assert not contains_kind(["*"], "Pod")
