"""cli/compare.py: how `verno test` compares a patched or generated resource with the expected one."""
from __future__ import annotations

from verno.cli.compare import same_resource


def test_generate_labels_and_default_namespace_are_ignored():
    actual = {"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default",
                                                "labels": {"generate.kyverno.io/policy-name": "p", "a": "b"}}}
    expected = {"kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "b"}}}
    assert same_resource(actual, expected)
    assert not same_resource(actual, {"kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "c"}}})


def test_labels_of_another_shape_are_compared_as_they_are():
    """A mutation can write labels as a list; comparing used to raise AttributeError (an internal error)."""
    actual = {"kind": "Pod", "metadata": {"name": "p", "labels": ["a", "b"]}}
    assert same_resource(actual, {"kind": "Pod", "metadata": {"name": "p", "labels": ["a", "b"]}})
    assert not same_resource(actual, {"kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b"}}})
