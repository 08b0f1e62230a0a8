from __future__ import annotations

from verno.core.models.match import Subject
from verno.core.request import Request
from verno.core.userinfo import UserMatcher, has_admission_info

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}}


def req(user=None, roles=(), cluster_roles=()):
    return Request(POD, user_info=user, roles=list(roles), cluster_roles=list(cluster_roles))


def test_has_admission_info():
    assert not has_admission_info(req())
    assert not has_admission_info(req({}))
    assert has_admission_info(req({"username": "alice"}))
    assert has_admission_info(req(roles=["ns:r"]))


def test_service_account_subject():
    m = UserMatcher(subjects=[Subject(kind="ServiceAccount", name="builder", namespace="ci")])
    assert m.matches(req({"username": "system:serviceaccount:ci:builder"}))
    assert not m.matches(req({"username": "system:serviceaccount:default:builder"}))


def test_user_and_group_wildcards():
    m = UserMatcher(subjects=[{"kind": "User", "name": "dev-*"}, {"kind": "Group", "name": "system:masters"}])
    assert m.matches(req({"username": "dev-bob"}))
    assert m.matches(req({"username": "x", "groups": ["system:authenticated", "system:masters"]}))
    assert not m.matches(req({"username": "ops", "groups": ["system:authenticated"]}))


def test_roles_exact_overlap_and_criteria_anded():
    m = UserMatcher(roles=["ns:dev"], cluster_roles=["admin"])
    assert m.matches(req({"username": "a"}, roles=["ns:dev"], cluster_roles=["admin", "view"]))
    assert m.check(req({"username": "a"}, roles=["ns:dev"])) == \
        "user info does not match clustersRoles for the given conditionBlock"
    assert not m.matches(req({"username": "a"}, roles=["ns:*"], cluster_roles=["admin"]))


def test_empty():
    assert UserMatcher().empty
    assert UserMatcher().matches(req())
    assert not UserMatcher(roles=["r"]).empty
