"""EgressPolicy: parsing ``--allow-egress`` entries and the address rules, including property tests over
the refused ranges and their IPv6 forms."""
from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verno.core.egress import EgressDenied, EgressPolicy, address_class

REFUSED_V4 = ["127.0.0.0/8", "169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
              "0.0.0.0/8", "224.0.0.0/4"]
REFUSED_V6 = ["::1/128", "fe80::/10", "fc00::/7", "ff00::/8", "::/128"]
STRICT = EgressPolicy()


def _in(net: str):
    n = ipaddress.ip_network(net)
    return st.integers(int(n.network_address), int(n.broadcast_address)).map(
        lambda i: ipaddress.ip_address(i) if n.version == 4 else ipaddress.IPv6Address(i))


refused_v4 = st.one_of(*[_in(n) for n in REFUSED_V4])


@settings(max_examples=300, deadline=None)
@given(refused_v4)
def test_every_refused_ipv4_address_and_its_ipv6_forms_are_refused(ip):
    forms = [ip, ipaddress.IPv6Address(f"::ffff:{ip}"),  # IPv4-mapped
             ipaddress.IPv6Address((0x2002 << 112) | (int(ip) << 80)),  # 6to4
             ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(ip))]  # NAT64
    for form in forms:
        assert address_class(form) is not None, form
        assert STRICT.refusal("x.test", 443, form, public=True) is not None


@settings(max_examples=200, deadline=None)
@given(st.one_of(*[_in(n) for n in REFUSED_V6]))
def test_every_refused_ipv6_address_is_refused(ip):
    assert STRICT.refusal("x.test", 443, ip, public=True) is not None


@settings(max_examples=200, deadline=None)
@given(refused_v4)
def test_an_address_entry_opens_exactly_that_address(ip):
    policy = EgressPolicy.parse([str(ip)])
    assert policy.refusal("x.test", 443, ip, public=True) is None
    assert policy.refusal("x.test", 443, ipaddress.IPv6Address(f"::ffff:{ip}"), public=False) is None
    other = ipaddress.ip_address(int(ip) ^ 1)
    assert policy.refusal("x.test", 443, other, public=True) is not None


def test_public_addresses_are_open_to_registries_and_closed_to_services():
    ip = ipaddress.ip_address("93.184.216.34")
    assert STRICT.refusal("example.com", 443, ip, public=True) is None
    assert STRICT.refusal("example.com", 443, ip, public=False) == "no --allow-egress entry names it"
    assert EgressPolicy.parse(["example.com"]).refusal("example.com", 443, ip, public=False) is None


def test_a_host_entry_with_a_port_opens_that_port_only():
    policy = EgressPolicy.parse(["svc.team.svc:8443"])
    ip = ipaddress.ip_address("10.96.0.7")
    assert policy.refusal("svc.team.svc", 8443, ip, public=False) is None
    assert policy.refusal("svc.team.svc", 443, ip, public=False) is not None
    assert policy.refusal("other.svc", 8443, ip, public=False) is not None


def test_a_host_entry_does_not_open_link_local_unspecified_or_multicast():
    policy = EgressPolicy.parse(["meta.test"])
    for address in ("169.254.169.254", "fe80::1", "0.0.0.0", "224.0.0.1"):
        assert policy.refusal("meta.test", 80, ipaddress.ip_address(address), public=True) is not None
    assert EgressPolicy.parse(["169.254.169.254"]).refusal(
        "meta.test", 80, ipaddress.ip_address("169.254.169.254"), public=True) is None


def test_plain_http_entries():
    policy = EgressPolicy.parse(["http://svc.team.svc:8080", "http://10.0.0.5", "https://secure.test"])
    assert policy.plain_http_allowed("svc.team.svc", 8080) and not policy.plain_http_allowed("svc.team.svc", 80)
    assert policy.plain_http_allowed("10.0.0.5", 80) and policy.names("10.0.0.5")
    assert policy.names("secure.test") and not policy.plain_http_allowed("secure.test", 443)


@pytest.mark.parametrize("entry, says", [
    ("", "empty entry"), ("10.0.0.1/8", "host bits set"), ("127.0.0.1:5000", "an address entry takes no port"),
    ("ftp://x.test", "scheme 'ftp'"), ("https://x.test/path", "names a host only"), ("a b", "is not a host name"),
    ("x.test:99999", "port '99999'"), ("https://10.0.0.0/8", "names a host only"),
])
def test_malformed_entries_name_the_entry(entry, says):
    with pytest.raises(ValueError) as err:
        EgressPolicy.parse([entry])
    assert f"--allow-egress {entry!r}" in str(err.value) and says in str(err.value)


def test_a_denial_says_which_flag_opens_it():
    policy = EgressPolicy()
    with pytest.raises(EgressDenied) as err:
        policy.check_addresses("db.internal", 443, [ipaddress.ip_address("::ffff:10.1.2.3")], public=True)
    assert str(err.value) == ("connection to db.internal (resolved to ::ffff:a01:203) refused: it is a private "
                              "address; allow it with --allow-egress 10.1.2.3")
