"""The egress policy (core/egress.py): every blocked range, embedded IPv4, odd spellings, the URL rules."""

from __future__ import annotations

import socket
from ipaddress import IPv4Address, ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchyard.core.egress import (
    BLOCKED_RANGES,
    METADATA_ADDRESSES,
    EgressPolicy,
    Target,
    legacy_ipv4,
    normalise_host,
)
from switchyard.core.errors import ConfigurationError, EgressBlocked

OPEN = EgressPolicy()
HTTP_HOSTS = "SWITCHYARD_EGRESS_ALLOW_HTTP_HOSTS"
NETWORKS = "SWITCHYARD_EGRESS_ALLOW_NETWORKS"


def refused(policy: EgressPolicy, url: str) -> EgressBlocked:
    with pytest.raises(EgressBlocked) as caught:
        policy.check_url(url)
    assert caught.value.code == "egress.blocked"
    assert caught.value.status == 403
    return caught.value


def url_for(address: str, scheme: str = "https") -> str:
    return f"{scheme}://[{address}]/" if ":" in address else f"{scheme}://{address}/"


# One address inside each blocked range, and the words the refusal uses for it.
BLOCKED = [
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("100.64.0.1", "CGNAT"),
    ("100.127.255.254", "CGNAT"),
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("169.254.1.1", "link-local"),
    ("172.16.0.1", "private"),
    ("172.31.255.1", "private"),
    ("192.0.0.8", "IETF"),
    ("192.0.2.10", "documentation"),
    ("192.88.99.1", "6to4 relay"),
    ("192.168.1.1", "private"),
    ("198.18.0.1", "benchmarking"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("64:ff9b:1::1", "NAT64"),
    ("100::1", "discard"),
    ("2001::1", "Teredo"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("fc00::1", "unique-local"),
    ("fd12:3456::1", "unique-local"),
    ("fe80::1", "link-local"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
]
METADATA = [
    "169.254.169.254",
    "169.254.170.2",
    "100.100.100.200",
    "192.0.0.192",
    "fd00:ec2::254",
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",
]
EMBEDDED = [  # IPv6 addresses that carry a blocked IPv4 address, judged by it
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:7f00:1", "loopback"),
    ("::ffff:10.0.0.1", "private"),
    ("::ffff:0.0.0.0", "unspecified"),
    ("::127.0.0.1", "loopback"),  # IPv4-compatible
    ("::10.1.2.3", "private"),
    ("64:ff9b::192.168.0.1", "private"),  # NAT64 well-known prefix
    ("2002:c0a8:101::1", "private"),  # 6to4 of 192.168.1.1
    ("2002:7f00:1::", "loopback"),
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "140.82.112.3", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"]


def test_the_table_covers_every_named_range() -> None:
    for address, _ in BLOCKED:
        assert any(ip_address(address) in net for net, _ in BLOCKED_RANGES), address


@pytest.mark.parametrize(("address", "words"), BLOCKED + EMBEDDED)
def test_blocked_addresses_are_refused(address: str, words: str) -> None:
    error = refused(OPEN, url_for(address))
    assert words in error.detail
    assert error.extra["egress_reason"] == "blocked_address"
    assert NETWORKS in (error.remediation or "")


@pytest.mark.parametrize("address", METADATA)
def test_cloud_metadata_is_refused_and_named(address: str) -> None:
    error = refused(OPEN, url_for(address))
    assert "cloud metadata" in error.detail


def test_metadata_stays_refused_inside_a_wide_allowlist() -> None:
    wide = EgressPolicy.build(networks=["0.0.0.0/0", "::/0", "169.254.0.0/16", "100.64.0.0/10"])
    for address in METADATA:
        refused(wide, url_for(address))
    assert wide.check_url("https://10.0.0.1/").address == IPv4Address("10.0.0.1")
    exact = EgressPolicy.build(networks=["169.254.169.254/32"])
    assert exact.check_url("https://169.254.169.254/latest/meta-data/").host == "169.254.169.254"
    refused(exact, "https://169.254.170.2/")


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    target = OPEN.check_url(url_for(address))
    assert target.address == ip_address(address)


@pytest.mark.parametrize(
    ("cidr", "inside", "outside"),
    [
        ("10.2.0.0/16", "10.2.3.4", "10.3.0.1"),
        ("127.0.0.0/8", "127.0.0.1", "10.0.0.1"),
        ("192.168.7.7", "192.168.7.7", "192.168.7.8"),
        ("fd12::/16", "fd12::5", "fd13::5"),
        ("10.9.8.7/8", "10.200.0.1", "172.16.0.1"),  # host bits in the CIDR are forgiven
    ],
)
def test_allowlisted_networks_pass_and_only_they(cidr: str, inside: str, outside: str) -> None:
    policy = EgressPolicy.build(networks=[cidr])
    assert policy.check_url(url_for(inside)).address == ip_address(inside)
    refused(policy, url_for(outside))


def test_mapped_addresses_follow_the_allowlist_of_their_ipv4() -> None:
    policy = EgressPolicy.build(networks=["127.0.0.0/8"])
    assert policy.check_url("https://[::ffff:127.0.0.1]:8443/").port == 8443
    refused(policy, "https://[::ffff:10.0.0.1]/")


ODD_SPELLINGS = [
    ("2130706433", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("127.0.1", "127.0.0.1"),
    ("017700000001", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("127.0.0.01", "127.0.0.1"),
    ("0x7F.0x0.0x0.0x1", "127.0.0.1"),
    ("2852039166", "169.254.169.254"),
    ("0xa9fea9fe", "169.254.169.254"),
    ("10.1", "10.0.0.1"),
    ("0", "0.0.0.0"),
    ("8.8.8.010", "8.8.8.8"),
    ("1.2.3.04", None),  # octal 04 is 4; refused all the same
    ("999.1.1.1", None),
    ("1.2.3.4.5", None),
    ("example.0x10", None),
]


@pytest.mark.parametrize(("spelling", "means"), ODD_SPELLINGS)
def test_odd_ipv4_spellings_never_sneak_through(spelling: str, means: str | None) -> None:
    lenient = EgressPolicy.build(
        http_hosts=["127.0.0.1"], networks=["0.0.0.0/0", "::/0", "169.254.169.254/32"]
    )
    for url in (f"https://{spelling}/", f"http://{spelling}:8080/x"):
        error = refused(lenient, url)
        assert error.extra["egress_reason"] == "ambiguous_address"
        if means is not None:
            assert means in error.detail


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_inet_aton_spelling_is_read_and_refused(number: int) -> None:
    address = IPv4Address(number)
    a, b, c, d = address.packed
    spellings = [
        str(number),
        hex(number),
        "0" + oct(number)[2:],
        f"{a}.{(b << 16) | (c << 8) | d}",
        f"{a}.{b}.{(c << 8) | d}",
        f"{hex(a)}.{hex(b)}.{hex(c)}.{hex(d)}",
        f"0{a:o}.{b}.{c}.{d}" if a else f"00.{b}.{c}.{d}",
    ]
    for spelling in spellings:
        assert legacy_ipv4(spelling) == address, spelling
        assert socket.inet_ntoa(socket.inet_aton(spelling)) == str(address), spelling
        if spelling != str(address):
            with pytest.raises(EgressBlocked):
                normalise_host(spelling)
    assert normalise_host(str(address)) == (str(address), address)


@given(st.text(alphabet="0123456789abcdefxX.", min_size=1, max_size=20))
def test_nothing_the_system_reads_as_an_address_passes_as_a_name(text: str) -> None:
    try:
        system: str | None = socket.inet_ntoa(socket.inet_aton(text))
    except OSError:
        system = None
    mine = legacy_ipv4(text)
    if mine is not None:  # never reads an address the system would read differently
        assert system == str(mine), text
    if system is None:
        return
    try:
        _, address = normalise_host(text)
    except EgressBlocked:
        return
    assert address == ip_address(system), text  # accepted only as the very address the system reads


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/",
        "http://api.github.com:443/",
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://example.com/",
        "ws://example.com/",
        "javascript:alert(1)",
        "//example.com/x",
        "/relative",
    ],
)
def test_only_https_by_default(url: str) -> None:
    error = refused(OPEN, url)
    assert error.extra["egress_reason"] in {"scheme", "malformed"}


def test_plain_http_names_the_setting() -> None:
    error = refused(OPEN, "http://example.com/")
    assert HTTP_HOSTS in (error.remediation or "")


def test_allowlisted_host_over_http_is_by_name() -> None:
    policy = EgressPolicy.build(http_hosts=["LocalHost", "127.0.0.1", "[::1]"], networks=["127.0.0.0/8"])
    assert policy.check_url("http://localhost:8080/token") == Target("http", "localhost", 8080)
    assert policy.check_url("http://LOCALHOST./").host == "localhost"
    assert policy.check_url("http://127.0.0.1/").port == 80
    refused(policy, "http://[::1]/")  # allowed over http by name, but ::1 is not in an allowed network
    refused(policy, "http://example.com/")
    assert policy.check_url("https://example.com/").port == 443


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pass@example.com/",
        "https://user@example.com/",
        "https://:@example.com/",
        "https://token@10.0.0.1/",
        "https://a%40b:c@example.com/",
    ],
)
def test_userinfo_is_refused(url: str) -> None:
    error = refused(EgressPolicy.build(networks=["0.0.0.0/0"]), url)
    assert error.extra["egress_reason"] == "userinfo"


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com\\@127.0.0.1/",
        "https://exa mple.com/",
        "https://example.com/\n",
        "https:///path",
        "https://example.com:0/",
        "https://example.com:99999/",
        "https://ex%41mple.com/",
        "https://a..b/",
        "https://[::1/",
        "https://[zz::1]/",
        "https://example.com:port/",
    ],
)
def test_malformed_urls_are_refused(url: str) -> None:
    assert refused(OPEN, url).extra["egress_reason"] == "malformed"


@pytest.mark.parametrize("port", [1, 22, 8443, 65535])
def test_any_port_is_allowed(port: int) -> None:
    assert OPEN.check_url(f"https://example.com:{port}/").port == port


@pytest.mark.parametrize("host", ["[::1", "::1]", "[[::1]]", "a b", "a/b", "a@b", "", ".", "x" * 254])
def test_odd_hosts_are_malformed(host: str) -> None:
    with pytest.raises(EgressBlocked) as caught:
        normalise_host(host)
    assert caught.value.extra["egress_reason"] == "malformed"


def test_names_are_normalised() -> None:
    assert OPEN.check_url("HTTPS://API.Example.COM./v1").origin == ("https", "api.example.com", 443)
    assert OPEN.check_url("https://bücher.example/").host == "xn--bcher-kva.example"
    assert OPEN.check_url("https://[2606:4700:4700:0::1111]/").host == "2606:4700:4700::1111"


def test_a_resolved_address_is_not_disclosed() -> None:
    with pytest.raises(EgressBlocked) as caught:
        OPEN.check_address("internal.example", "10.1.2.3")
    assert "10.1.2.3" not in caught.value.detail
    assert "internal.example" in caught.value.detail and "private" in caught.value.detail
    assert OPEN.check_address("public.example", "8.8.8.8") == IPv4Address("8.8.8.8")
    assert OPEN.check_address("scoped.example", "2606:4700::1%3") == ip_address("2606:4700::1")
    with pytest.raises(EgressBlocked):
        OPEN.check_address("scoped.example", "fe80::1%2")


def test_build_refuses_a_bad_network() -> None:
    with pytest.raises(ConfigurationError) as caught:
        EgressPolicy.build(networks=["10.0.0.0/8", "not-a-cidr"])
    assert caught.value.code == "config.egress_network_invalid"
    assert NETWORKS in caught.value.detail
    with pytest.raises(ConfigurationError):
        EgressPolicy(max_redirects=-1)


def test_metadata_table_is_blocked_by_default() -> None:
    for address in METADATA_ADDRESSES:
        assert OPEN.blocked_reason(address) == "cloud metadata address"
