"""core/objectshape.py: identity fields typed as the API server types them."""
from __future__ import annotations

import pytest

from verno.core.objectshape import object_problem

OK = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "namespace": "default",
                                                      "labels": {"a": "b"}, "annotations": {"c": ""}}}


def test_a_well_typed_object_has_no_problem():
    assert object_problem(OK) is None
    assert object_problem({"kind": "Pod"}) is None  # no metadata at all is readable
    assert object_problem({"kind": "Pod", "metadata": {"labels": {"a": None}}}) is None  # null reads as ""


@pytest.mark.parametrize("change,field,message", [
    ({"apiVersion": ["v1"]}, "apiVersion", "must be a string, got a list"),
    ({"kind": {"a": "Pod"}}, "kind", "must be a string, got a mapping"),
    ({"kind": 5}, "kind", "must be a string, got a number"),
    ({"kind": ""}, "kind", "a resource needs a kind"),
    ({"metadata": 3}, "metadata", "metadata must be a mapping"),
    ({"metadata": {"name": ["x"]}}, "metadata.name", "must be a string, got a list"),
    ({"metadata": {"name": "x", "namespace": {"a": 1}}}, "metadata.namespace", "must be a string, got a mapping"),
    ({"metadata": {"generateName": True}}, "metadata.generateName", "must be a string, got a boolean"),
    ({"metadata": {"labels": ["a", "b"]}}, "metadata.labels", "must be a mapping of strings, got a list"),
    ({"metadata": {"labels": {"a": ["b"]}}}, "metadata.labels.a", "must be a string, got a list"),
    ({"metadata": {"annotations": {"n": 1}}}, "metadata.annotations.n", "must be a string, got a number (quote it)"),
])
def test_wrong_types_name_the_field(change, field, message):
    assert object_problem({**OK, **change}) == (field, message)
