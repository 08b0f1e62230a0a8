"""core/cel/admission.py: the typed admission variables with Kubernetes' zero values."""
from __future__ import annotations

from verno.core.cel.admission import admission_inputs, namespace_object
from verno.core.cel.environment import environment_for
from verno.core.cel.program import Activation
from verno.core.request import Request

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "prod"}}


def evaluate(expression, inputs):
    env = environment_for("ValidatingPolicy")
    return Activation(inputs).evaluate(env.compile(expression))


def test_create_update_delete_shape_object_and_old_object():
    create = admission_inputs(Request(POD), None)
    assert create["object"] == POD and create["oldObject"] is None
    update = admission_inputs(Request(POD, POD, "UPDATE"), None)
    assert update["oldObject"] == POD
    delete = admission_inputs(Request({}, POD, "DELETE"), None)
    assert delete["object"] is None and delete["oldObject"] == POD
    assert delete["request"]["name"] == "web" and delete["request"]["operation"] == "DELETE"


def test_request_fields_read_as_zero_values_when_unset():
    inputs = {**admission_inputs(Request(POD), None), "exceptions": {}}
    assert evaluate("request.userInfo.groups == [] && request.userInfo.username == ''", inputs) is True
    assert evaluate("request.resource.resource == 'pods' && request.kind.kind == 'Pod'", inputs) is True
    assert evaluate("request.namespace == 'prod' && request.subResource == ''", inputs) is True


def test_namespace_object_fills_typed_fields():
    ns = namespace_object({"metadata": {"name": "prod", "labels": {"env": "prod"}}})
    assert ns["metadata"]["annotations"] == {} and ns["metadata"]["labels"] == {"env": "prod"}
    inputs = {**admission_inputs(Request(POD), {"metadata": {"name": "prod"}}), "exceptions": {}}
    assert evaluate("namespaceObject.metadata.labels.size() == 0 && namespaceObject.metadata.name == 'prod'",
                    inputs) is True
