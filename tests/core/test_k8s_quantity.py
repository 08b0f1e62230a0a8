"""The standalone loader gives kubernetes' own parse_quantity, without importing the client."""
from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest

from verno.core.k8s_quantity import parse_quantity


@pytest.mark.parametrize("text,value", [("1Gi", Decimal(2**30)), ("500m", Decimal("0.5")), ("1k", Decimal(1000)),
                                        ("2", Decimal(2)), ("1.5Mi", Decimal(1572864))])
def test_same_values_as_kubernetes(text, value):
    from kubernetes.utils import parse_quantity as reference

    assert parse_quantity(text) == value == reference(text)


def test_invalid_quantity_raises_like_kubernetes():
    with pytest.raises(ValueError):
        parse_quantity("12xyz")


def test_loading_does_not_import_the_kubernetes_client():
    code = "import sys, verno.core.k8s_quantity; print('kubernetes.client' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
