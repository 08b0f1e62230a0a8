from __future__ import annotations

import re

import pytest

from verno.core.errors import JMESPathError
from verno.core.jmespath import JMESPath


@pytest.mark.parametrize("pattern", [
    "[0-9a-z]{5}", "[a-z]{3}-[0-9]{2}", "(foo|bar)[0-9]+", "x?y*z", "\\d{4}", "[^a-z]{3}", "\\w+\\.\\w+",
])
def test_random_matches_pattern(jp: JMESPath, pattern: str) -> None:
    for _ in range(20):
        value = jp.search("random(@)", pattern)
        assert re.fullmatch(pattern, value), (pattern, value)


def test_random_is_random(jp: JMESPath) -> None:
    assert len({jp.search("random('[a-z0-9]{12}')", {}) for _ in range(10)}) > 1


def test_random_errors(jp: JMESPath) -> None:
    with pytest.raises(JMESPathError, match="no pattern provided"):
        jp.search("random('')", {})
    with pytest.raises(JMESPathError):
        jp.search("random('[')", {})


@pytest.mark.parametrize("url, expected", [
    ("http://10.1.2.3/x", False),
    ("https://192.168.0.1:8443", False),
    ("http://172.20.0.1", False),
    ("http://127.0.0.1:8080/metrics", False),
    ("http://[::1]/", False),
    ("http://[fd00::1]/", False),
    ("https://8.8.8.8/", True),
    ("https://172.32.0.1/", True),
    ("http://localhost:8080", False),
])
def test_is_external_url(jp: JMESPath, url: str, expected: bool) -> None:
    assert jp.search("is_external_url(@)", url) is expected


@pytest.mark.parametrize("expr, expected", [
    ("sha256('hello')", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),
    ("sha1('hello')", "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"),
    ("md5('hello')", "5d41402abc4b2a76b9719d911017c592"),
])
def test_hashes(jp: JMESPath, expr: str, expected: str) -> None:
    assert jp.search(expr, {}) == expected
