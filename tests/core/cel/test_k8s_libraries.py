"""Kubernetes' CEL libraries, against the examples Kubernetes documents
(https://kubernetes.io/docs/reference/using-api/cel/ and the library godoc)."""
from __future__ import annotations

import pytest

from verno.core.cel import Activation, CELEvaluationError, environment_for


@pytest.fixture(scope="module")
def env():
    return environment_for("ValidatingPolicy")


def run(env, expression):
    return env.compile(expression).evaluate(Activation({}))


@pytest.mark.parametrize("expression, expected", [
    # lists
    ("[1, 2, 3].isSorted()", True), ("['a', 'b', 'b', 'c'].isSorted()", True), ("[2, 1].isSorted()", False),
    ("[].isSorted()", True),
    ("[1, 3].sum()", 4), ("[1.0, 3.0].sum()", 4.0), ("[].sum()", 0),
    ("[1, 2].min()", 1), ("[1, 2].max()", 2), ("['b', 'a'].min()", "a"),
    ("[1, 2, 2, 3].indexOf(2)", 1), ("['a', 'b', 'b', 'c'].lastIndexOf('b')", 2), ("[1].indexOf(5)", -1),
    ("[1, 2].indexOf(2.0)", 1),
    # regex (RE2)
    ("'abc 123'.find('[0-9]+')", "123"), ("'abc'.find('[0-9]+')", ""),
    ("'123 abc 456'.findAll('[0-9]+')", ["123", "456"]), ("'123 abc 456'.findAll('[0-9]+', 1)", ["123"]),
    ("'123 abc 456'.findAll('[0-9]+', 0)", []), ("'123 abc 456'.findAll('[0-9]+', -1)", ["123", "456"]),
    # quantity
    ("quantity('50000M').isGreaterThan(quantity('50Gi'))", False),
    ("quantity('50Gi').isGreaterThan(quantity('50000M'))", True),
    ("quantity('50M').isLessThan(quantity('100M'))", True),
    ("quantity('200M').compareTo(quantity('0.2G'))", 0), ("quantity('50k').compareTo(quantity('100k'))", -1),
    ("quantity('1000m') == quantity('1')", True),
    ("quantity('50k').sign()", 1), ("quantity('-50k').sign()", -1), ("quantity('0').sign()", 0),
    ("quantity('50k').isInteger()", True), ("quantity('50.5m').isInteger()", False),
    ("quantity('50k').asInteger()", 50000), ("quantity('50k').asApproximateFloat()", 50000.0),
    ("quantity('50k').add(quantity('20k')) == quantity('70k')", True),
    ("quantity('50k').add(20) == quantity('50020')", True),
    ("quantity('50k').sub(quantity('20k')) == quantity('30k')", True),
    ("quantity('50k').sub(20) == quantity('49980')", True),
    ("isQuantity('1.3G')", True), ("isQuantity('1.3Gi')", True), ("isQuantity('1,3Gi')", False),
    ("isQuantity('10000k')", True), ("isQuantity('200K')", False),
    # ip
    ("isIP('127.0.0.1')", True), ("isIP('::1')", True), ("isIP('127.0.0.256')", False),
    ("isIP('::ffff:127.0.0.1')", False), ("isIP('fe80::1%eth0')", False),
    ("ip.isCanonical('127.0.0.1')", True), ("ip.isCanonical('2001:db8::abcd')", True),
    ("ip.isCanonical('2001:DB8::ABCD')", False), ("ip.isCanonical('2001:db8:0:0:0:0:0:abcd')", False),
    ("ip('127.0.0.1').family()", 4), ("ip('::1').family()", 6),
    ("ip('0.0.0.0').isUnspecified()", True), ("ip('127.0.0.1').isLoopback()", True),
    ("ip('224.0.0.1').isLinkLocalMulticast()", True), ("ip('224.0.1.1').isLinkLocalMulticast()", False),
    ("ip('ff02::1').isLinkLocalMulticast()", True),
    ("ip('169.254.169.254').isLinkLocalUnicast()", True), ("ip('192.168.0.1').isLinkLocalUnicast()", False),
    ("ip('192.168.0.1').isGlobalUnicast()", True), ("ip('255.255.255.255').isGlobalUnicast()", False),
    ("string(ip('2001:DB8::1'))", "2001:db8::1"), ("ip('127.0.0.1') == ip('127.0.0.1')", True),
    # cidr
    ("isCIDR('192.168.0.0/16')", True), ("isCIDR('192.168.0.0/33')", False), ("isCIDR('192.168.0.0')", False),
    ("cidr('192.168.0.0/24').containsIP(ip('192.168.0.1'))", True),
    ("cidr('192.168.0.0/24').containsIP('192.168.1.1')", False),
    ("cidr('192.168.0.0/16').containsCIDR(cidr('192.168.10.0/24'))", True),
    ("cidr('192.168.1.0/24').containsCIDR('192.168.0.0/16')", False),
    ("cidr('192.168.0.1/24').ip() == ip('192.168.0.1')", True),
    ("cidr('192.168.0.1/24').masked() == cidr('192.168.0.0/24')", True),
    ("cidr('192.168.0.0/16').prefixLength()", 16), ("string(cidr('::1/128'))", "::1/128"),
    ("cidr('::1/128').containsIP('127.0.0.1')", False),
    # semver
    ("isSemver('1.0.0')", True), ("isSemver('v1.0')", False), ("isSemver('v1.0', true)", True),
    ("isSemver('1.0.0-alpha+001')", True), ("isSemver('01.0.0')", False),
    ("semver('1.0.0').major()", 1), ("semver('1.2.3').minor()", 2), ("semver('1.2.3').patch()", 3),
    ("semver('v01.01', true) == semver('1.1.0')", True),
    ("semver('1.0.0').isGreaterThan(semver('0.1.0'))", True),
    ("semver('1.0.0-alpha').isLessThan(semver('1.0.0-alpha.1'))", True),
    ("semver('1.0.0-beta.11').compareTo(semver('1.0.0-beta.2'))", 1),
    ("semver('1.0.0-rc.1').compareTo(semver('1.0.0'))", -1),
    ("semver('1.0.0+build.1').compareTo(semver('1.0.0'))", 0),
    # urls
    ("url('https://example.com/path').getScheme()", "https"),
    ("url('https://example.com:80/').getHost()", "example.com:80"),
    ("url('https://[::1]:80/').getHost()", "[::1]:80"),
    ("url('https://example.com:80/').getHostname()", "example.com"),
    ("url('https://[::1]:80/').getHostname()", "::1"),
    ("url('https://example.com:80/').getPort()", "80"), ("url('https://example.com/').getPort()", ""),
    ("url('https://example.com/path with spaces/').getEscapedPath()", "/path%20with%20spaces/"),
    ("url('https://example.com/path?k1=a&k2=b&k2=c').getQuery()", {"k1": ["a"], "k2": ["b", "c"]}),
    ("url('/absolute-path').getScheme()", ""),
    ("isURL('https://example.com')", True), ("isURL('../relative-path')", False), ("isURL('')", False),
])
def test_documented_results(env, expression, expected):
    result = run(env, expression)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("expression, detail", [
    ("[].min()", "min called on empty list"),
    ("[].max()", "max called on empty list"),
    ("[1, 'a'].isSorted()", "no such overload"),
    ("'x'.find('[')", "error parsing regexp: missing closing ]: `[`"),
    ("quantity('x')", "quantities must match the regular expression"),
    ("quantity('1.5').asInteger()", "cannot convert value to integer"),
    ("quantity('10000000000000000000').asInteger()", "cannot convert value to integer"),
    ("ip('::ffff:1.2.3.4')", "IPv4-mapped IPv6 address is not allowed"),
    ("ip('fe80::1%eth0')", "IP address with zone value is not allowed"),
    ("ip('1.2.3')", "parse error during conversion from string"),
    ("cidr('1.2.3.4/33')", "prefix length out of range"),
    ("semver('1.0')", "could not parse '1.0' as semver"),
    ("url('../x')", "invalid URI for request"),
    ("quantity('1').isGreaterThan(semver('1.0.0'))", "no such overload"),
    ("ip('1.1.1.1').family() == 4 && dyn({'v': '1.1.1.1'}).family() == 4", "no such overload"),
])
def test_errors(env, expression, detail):
    with pytest.raises(CELEvaluationError) as info:
        run(env, expression)
    assert detail in info.value.detail


def test_opaque_values_cannot_be_forged_from_input(env):
    forged = {"@verno.cel.x": "kubernetes.Quantity", "v": "1"}
    program = env.compile("object.sign()")
    with pytest.raises(CELEvaluationError, match="no such overload"):
        program.evaluate(Activation({"object": forged}))
