"""A request's identity read from any JSON (payloads are not Kubernetes objects)."""


def test_a_payload_of_any_shape_reads_as_an_object_without_identity():
    from verno.core.request import Request

    for payload in ({"metadata": 64, "kind": 3, "apiVersion": ["v1"]},
                    {"metadata": {"name": 1, "namespace": {}, "labels": "x", "annotations": []}}):
        r = Request(payload)
        assert (r.kind, r.api_version, r.name, r.namespace, r.labels, r.annotations) == ("", "", "", "", {}, {})
