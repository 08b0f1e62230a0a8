from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verno.core.errors import JMESPathError
from verno.core.jmespath import JMESPath
from verno.core.jmespath.functions import all_functions


def test_all_51_functions_registered(jp: JMESPath) -> None:
    names = [spec.name for spec in all_functions()]
    assert len(names) == len(set(names)) == 51
    assert all(spec.description for spec in all_functions())
    for name in names:
        assert jp.has_function(name)


@pytest.mark.parametrize("expr, expected", [
    ("compare('a', 'b')", -1),
    ("compare('b', 'a')", 1),
    ("compare('a', 'a')", 0),
    ("equal_fold('Go', 'GO')", True),
    ("equal_fold('Go', 'Goo')", False),
    ("replace('Lorem ipsum dolor sit amet', 'ipsum', 'muspi', `-1`)", "Lorem muspi dolor sit amet"),
    ("replace('aaaa', 'a', 'b', `2`)", "bbaa"),
    ("replace('aaaa', 'a', 'b', `0`)", "aaaa"),
    ("replace('ab', '', '-', `-1`)", "-a-b-"),
    ("replace_all('Lorem ipsum dolor sit amet', 'Lorem', 'muspi')", "muspi ipsum dolor sit amet"),
    ("to_upper('abc')", "ABC"),
    ("to_lower('AbC')", "abc"),
    ("trim('¡¡¡Hello, Gophers!!!', '!¡')", "Hello, Gophers"),
    ("trim('  x  ', '')", "  x  "),
    ("trim_prefix('Lorem ipsum', 'Lorem ')", "ipsum"),
    ("trim_prefix('Lorem ipsum', 'ipsum')", "Lorem ipsum"),
    ("split('Hello Gophers', ' ')", ["Hello", "Gophers"]),
    ("split('abc', '')", ["a", "b", "c"]),
    ("split('', ',')", [""]),
    ("truncate('Lorem ipsum dolor sit amet', `5`)", "Lorem"),
    ("truncate('Lorem', `50`)", "Lorem"),
    ("truncate('Lorem', `-1`)", ""),
    ("base64_decode('SGVsbG8sIHdvcmxkIQ==')", "Hello, world!"),
    ("base64_encode('Hello, world!')", "SGVsbG8sIHdvcmxkIQ=="),
    ("path_canonicalize('/var/run/containerd/containerd.sock')", "/var/run/containerd/containerd.sock"),
    ("path_canonicalize('//etc//config/..//')", "/etc"),
    ("path_canonicalize('a/./b/../../..')", ".."),
    ("path_canonicalize('')", ""),
])
def test_string_functions(jp: JMESPath, expr: str, expected: object) -> None:
    assert jp.search(expr, {}) == expected


def test_base64_decode_rejects_invalid(jp: JMESPath) -> None:
    with pytest.raises(JMESPathError, match="base64_decode"):
        jp.search("base64_decode('not base64!')", {})


def test_type_errors_are_jmespath_errors(jp: JMESPath) -> None:
    with pytest.raises(JMESPathError, match="truncate"):
        jp.search("truncate('abc', 'x')", {})


@given(st.text(), st.text(min_size=1))
def test_split_matches_go(s: str, sep: str) -> None:
    from verno.core.jmespath.functions.strings import split

    assert sep.join(split(s, sep)) == s


@given(st.text())
def test_base64_roundtrip(s: str) -> None:
    from verno.core.jmespath.functions.strings import base64_decode, base64_encode

    assert base64_decode(base64_encode(s)) == s
