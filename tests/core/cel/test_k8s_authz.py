"""Kubernetes' authz library (`authorizer`), asked of the bound data: RBAC objects offline, a
SubjectAccessReview in a cluster (tests/server/test_vap_authorizer.py)."""
from __future__ import annotations

import pytest

from verno.core.cel import Activation, CELEvaluationError, environment_for
from verno.core.cel.datasources import bound
from verno.core.cel.libs.k8s_authz import authorizer_value
from verno.core.cel.offline import OfflineCelData

RBAC = [
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "deployer"},
     "rules": [{"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale"], "verbs": ["get", "update"]},
               {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "ci", "namespace": "team"},
     "roleRef": {"kind": "ClusterRole", "name": "deployer"},
     "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "bot", "namespace": "ci"}]},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "health"},
     "roleRef": {"kind": "ClusterRole", "name": "deployer"}, "subjects": [{"kind": "Group", "name": "ops"}]},
]


@pytest.fixture(scope="module")
def env():
    return environment_for("ValidatingAdmissionPolicy")


def run(env, expression, *, user="alice", groups=(), data=None, request=("apps", "deployments", "", "team", "web")):
    authorizer = authorizer_value({"username": user, "groups": list(groups)}, request)
    with bound(data if data is not None else OfflineCelData(resources=RBAC)):
        return env.compile(expression).evaluate(Activation({"authorizer": authorizer}))


DEPLOYMENTS = "authorizer.group('apps').resource('deployments')"


@pytest.mark.parametrize("expression, kwargs, expected", [
    (f"{DEPLOYMENTS}.namespace('team').check('update').allowed()", {}, True),
    (f"{DEPLOYMENTS}.namespace('team').name('web').check('get').allowed()", {}, True),
    (f"{DEPLOYMENTS}.namespace('other').check('update').allowed()", {}, False),
    (f"{DEPLOYMENTS}.namespace('team').check('delete').allowed()", {}, False),
    (f"{DEPLOYMENTS}.subresource('scale').namespace('team').check('update').allowed()", {}, True),
    (f"{DEPLOYMENTS}.subresource('status').namespace('team').check('update').allowed()", {}, False),
    (f"{DEPLOYMENTS}.namespace('team').check('get').reason()", {},
     'RBAC: allowed by RoleBinding "ci/team" of ClusterRole "deployer" to User "alice"'),
    (f"{DEPLOYMENTS}.namespace('team').check('delete').reason()", {}, ""),
    (f"{DEPLOYMENTS}.namespace('team').check('get').errored()", {}, False),
    ("authorizer.requestResource.check('update').allowed()", {}, True),
    ("authorizer.requestResource.check('update').allowed()", {"user": "bob"}, False),
    ("authorizer.requestResource.check('update').allowed()", {"request": ("apps", "deployments", "", "prod", "w")},
     False),
    ("authorizer.serviceAccount('ci', 'bot').group('apps').resource('deployments').namespace('team')"
     ".check('get').allowed()", {"user": "mallory"}, True),
    ("authorizer.serviceAccount('ci', 'other').group('apps').resource('deployments').namespace('team')"
     ".check('get').allowed()", {}, False),
    ("authorizer.path('/healthz').check('get').allowed()", {"user": "bob", "groups": ["ops"]}, True),
    ("authorizer.path('/healthz').check('get').allowed()", {}, False),  # a RoleBinding grants no URL
    ("authorizer.path('/metrics').check('get').allowed()", {"user": "bob", "groups": ["ops"]}, False),
    (f"{DEPLOYMENTS}.namespace('team').labelSelector('app=web').fieldSelector('metadata.name=web')"
     ".check('get').allowed()", {}, True),
])
def test_checks_answer_as_kubernetes_rbac(env, expression, kwargs, expected):
    assert run(env, expression, **kwargs) == expected


def test_without_rbac_objects_a_check_is_an_errored_denial_saying_what_to_give(env):
    data = OfflineCelData(resources=[])
    assert run(env, f"{DEPLOYMENTS}.check('get').allowed()", data=data) is False
    assert run(env, f"{DEPLOYMENTS}.check('get').errored()", data=data) is True
    assert "give the Roles or ClusterRoles and their bindings" in run(env, f"{DEPLOYMENTS}.check('get').error()",
                                                                      data=data)


def test_a_data_source_without_an_authorizer_gives_an_errored_decision(env):
    class NoAuthorizer:
        pass

    assert run(env, f"{DEPLOYMENTS}.check('get').errored()", data=NoAuthorizer()) is True


@pytest.mark.parametrize("expression", [
    "authorizer.group('apps').check('get')",          # a GroupCheck cannot be checked
    "authorizer.resource('pods')",                    # resource() is a GroupCheck's
    "'x'.check('get')", "{'a': 1}.allowed()",
    "authorizer.requestResource.check('get').check('get')",
])
def test_calls_on_the_wrong_value_are_no_such_overload(env, expression):
    with pytest.raises(CELEvaluationError, match="no such overload"):
        run(env, expression)


def test_data_cannot_forge_an_authorizer_value(env):
    forged = {"@verno.cel.0000": "kubernetes.authorization.Authorizer", "v": {"user": "admin", "groups": []}}
    with bound(OfflineCelData(resources=RBAC)), pytest.raises(CELEvaluationError, match="no such overload"):
        env.compile("object.group('apps')").evaluate(Activation({"object": forged}))


def test_the_authorizer_is_only_in_kubernetes_kinds():
    from verno.core.cel import CELCompileError

    with pytest.raises(CELCompileError, match="undeclared reference to 'authorizer'"):
        environment_for("ValidatingPolicy").compile("authorizer.path('/x').check('get').allowed()")
