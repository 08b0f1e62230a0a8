from __future__ import annotations

import pytest

from verno.core.errors import JMESPathError
from verno.core.jmespath import JMESPath


@pytest.mark.parametrize("version, rng, expected", [
    ("1.5.0", ">=1.0.0 <2.0.0", True),
    ("2.0.0", ">=1.0.0 <2.0.0", False),
    ("1.0.0", "1.0.0", True),
    ("1.0.0", ">1.0.0", False),
    ("4.1.3", ">=4.0.0 <4.1.0 || >=4.1.3", True),
    ("4.1.1", ">=4.0.0 <4.1.0 || >=4.1.3", False),
    ("1.0.0-alpha", "<1.0.0", True),
    ("1.0.0-alpha.1", ">1.0.0-alpha", True),
    ("1.0.0-beta", ">1.0.0-alpha.1", True),
    ("1.0.0+build.5", "=1.0.0", True),
    ("1.2.5", "1.2.x", True),
    ("1.3.0", "1.2.x", False),
    ("1.9.0", "<=1.x", True),
    ("1.0.1", "!1.0.0", True),
    ("1.0.1", "!=1.0.1", False),
    ("not-a-version", "<0.0.1", True),  # Kyverno ignores the parse error: 0.0.0
])
def test_semver_compare(jp: JMESPath, version: str, rng: str, expected: bool) -> None:
    assert jp.search(f"semver_compare('{version}', '{rng}')", {}) is expected


def test_invalid_range(jp: JMESPath) -> None:
    with pytest.raises(JMESPathError):
        jp.search("semver_compare('1.0.0', '>=abc')", {})
