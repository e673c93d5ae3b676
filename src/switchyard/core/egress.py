"""The egress guard's policy: which outbound URLs and addresses Switchyard may reach (no IO here).

Tenants write URLs that Switchyard calls (token, refresh, revocation and verification endpoints, proxy base
URLs), so every outbound call is judged twice:

* the **URL** (``check_url`` / ``check_target``): ``https`` only, plain ``http`` only to host names the
  operator lists (``SWITCHYARD_EGRESS_ALLOW_HTTP_HOSTS``); no user info (``https://user:pass@host``); a host
  that is a name or a canonical address literal. Odd IPv4 spellings (``2130706433``, ``0x7f.1``, ``127.1``,
  ``017700000001``, ``127.000.0.1``) are refused outright: the system resolver would read them as an address,
  so they are normalised only to say in the error which address they mean. Any port is allowed: the guard
  is by address, and a public service on an unusual port is a provider like any other.
* every **address** the host resolves to (``check_address``): the ranges in ``BLOCKED_RANGES`` (private,
  loopback, link-local, unique-local, CGNAT, multicast, unspecified, reserved, documentation, tunnelling)
  are refused unless a network in ``SWITCHYARD_EGRESS_ALLOW_NETWORKS`` contains the address. An
  IPv4-mapped, IPv4-compatible, NAT64 (``64:ff9b::/96``) or 6to4 IPv6 address is judged by the IPv4 address
  it carries. Cloud metadata addresses (``METADATA_ADDRESSES``) are refused even inside an allowed network,
  unless the allowlist names the address itself (``169.254.169.254/32``).

The allowlists are separate on purpose: ``http://localhost`` needs ``localhost`` among the http hosts *and*
its address (``127.0.0.0/8``) among the allowed networks. The adapters resolve a name once, check every
address and connect to a checked one (``adapters/egress.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from urllib.parse import urlsplit

from switchyard.core.errors import ConfigurationError, EgressBlocked

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

HTTP_HOSTS_SETTING = "SWITCHYARD_EGRESS_ALLOW_HTTP_HOSTS"
NETWORKS_SETTING = "SWITCHYARD_EGRESS_ALLOW_NETWORKS"
DEFAULT_PORTS = {"https": 443, "http": 80}

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean instance metadata
        "169.254.170.2",  # AWS ECS task metadata and credentials
        "169.254.169.123",  # AWS time sync
        "169.254.169.253",  # AWS DNS resolver
        "100.100.100.200",  # Alibaba Cloud metadata
        "192.0.0.192",  # Oracle Cloud metadata (legacy)
        "fd00:ec2::254",  # AWS metadata over IPv6
        "fd00:ec2::23",  # AWS DNS over IPv6
    )
)

_RANGES: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified ('this network') address"),
    ("10.0.0.0/8", "private address"),
    ("100.64.0.0/10", "shared (CGNAT) address"),
    ("127.0.0.0/8", "loopback address"),
    ("169.254.0.0/16", "link-local address"),
    ("172.16.0.0/12", "private address"),
    ("192.0.0.0/24", "IETF protocol assignment"),
    ("192.0.2.0/24", "documentation address"),
    ("192.88.99.0/24", "6to4 relay address"),
    ("192.168.0.0/16", "private address"),
    ("198.18.0.0/15", "benchmarking address"),
    ("198.51.100.0/24", "documentation address"),
    ("203.0.113.0/24", "documentation address"),
    ("224.0.0.0/4", "multicast address"),
    ("240.0.0.0/4", "reserved or broadcast address"),
    ("::/128", "unspecified address"),
    ("::1/128", "loopback address"),
    ("64:ff9b:1::/48", "local-use NAT64 address"),
    ("100::/64", "discard-only address"),
    ("2001::/32", "Teredo tunnelling address"),
    ("2001:db8::/32", "documentation address"),
    ("3fff::/20", "documentation address"),
    ("fc00::/7", "unique-local address"),
    ("fe80::/10", "link-local address"),
    ("fec0::/10", "site-local address"),
    ("ff00::/8", "multicast address"),
)
BLOCKED_RANGES: tuple[tuple[IPNetwork, str], ...] = tuple((ip_network(n), why) for n, why in _RANGES)
_NAT64 = int(IPv6Address("64:ff9b::")) >> 32
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")
_BAD_URL_CHARS = frozenset("\\ \t\r\n\x00")
_DECIMAL = frozenset("0123456789")
_OCTAL = frozenset("01234567")
_HEX = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL's endpoint. ``host`` is normalised (lowercase, no trailing dot, an address in canonical
    form without brackets); ``address`` is set when the host is an address literal (nothing to resolve)."""

    scheme: str
    host: str
    port: int
    address: IPAddress | None = None

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)


def _blocked(detail: str, reason: str, *, remediation: str | None = None) -> EgressBlocked:
    return EgressBlocked(detail, remediation=remediation, extra={"egress_reason": reason})


def legacy_ipv4(host: str) -> IPv4Address | None:
    """The address a resolver reads in an inet_aton spelling (1-4 parts, decimal, 0x-hex or 0-octal)."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values: list[int] = []
    for part in parts:
        if part[:2] in ("0x", "0X"):
            ok, base = len(part) > 2 and set(part[2:]) <= _HEX, 16
        elif part[:1] == "0":
            ok, base = set(part) <= _OCTAL, 8
        else:
            ok, base = bool(part) and set(part) <= _DECIMAL, 10
        if not ok:
            return None
        values.append(int(part, base))
    *head, last = values
    if any(not 0 <= v <= 255 for v in head) or not 0 <= last < 256 ** (5 - len(values)):
        return None
    number = last
    for i, value in enumerate(head):
        number |= value << (8 * (3 - i))
    return IPv4Address(number)


def _looks_numeric(label: str) -> bool:
    if label[:2] in ("0x", "0X"):
        return len(label) > 2 and set(label[2:]) <= _HEX
    return bool(label) and set(label) <= _DECIMAL


def normalise_host(host: str) -> tuple[str, IPAddress | None]:
    """The host in canonical form and, for an address literal, the address; refuses what is ambiguous."""
    name = (host[1:-1] if host[:1] == "[" and host[-1:] == "]" else host).lower()
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            raise _blocked(f"the host {host!r} is not a valid host name", "malformed") from None
    if name.endswith(".") and not name.endswith(".."):
        name = name[:-1]
    if not name:
        raise _blocked("no host was given", "malformed")
    if ":" in name:  # only an IPv6 literal has a colon here
        try:
            address: IPAddress = IPv6Address(name.split("%", 1)[0])
        except ValueError:
            raise _blocked(f"the host {host!r} is not a valid IPv6 address", "malformed") from None
        return str(address), address
    if not set(name) <= _NAME_CHARS or ".." in name or len(name) > 253:
        raise _blocked(f"the host {host!r} is not a valid host name", "malformed")
    if _looks_numeric(name.rsplit(".", 1)[-1]):  # a resolver would read it as an IPv4 address
        try:
            address = IPv4Address(name)
        except ValueError:
            meant = legacy_ipv4(name)
            detail = f"the host {host!r} is an ambiguous IPv4 spelling" + (f" of {meant}" if meant else "")
            raise _blocked(
                detail, "ambiguous_address", remediation="Write an address as four decimal parts (1.2.3.4)."
            ) from None
        return str(address), address
    return name, None


def embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, NAT64 well-known prefix, 6to4)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    number = int(address)
    if number >> 32 == 0 and number > 1:
        return IPv4Address(number)
    if number >> 32 == _NAT64:
        return IPv4Address(number & 0xFFFFFFFF)
    return address.sixtofour


def _parse_network(text: str) -> IPNetwork:
    try:
        return ip_network(text.strip().strip("[]"), strict=False)
    except ValueError:
        raise ConfigurationError(
            f"{NETWORKS_SETTING} holds {text!r}, which is not a network (CIDR)",
            code="config.egress_network_invalid",
            remediation="Write networks as CIDRs, comma-separated: 10.2.0.0/16,fd12::/48.",
        ) from None


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """What may be called: ``http_hosts`` over plain http, ``networks`` although private, and how many
    redirects a call may follow. Build one from settings-like strings with ``EgressPolicy.build``."""

    http_hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()
    max_redirects: int = 5
    _v4: tuple[IPv4Network, ...] = field(init=False, repr=False, compare=False)
    _v6: tuple[IPv6Network, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_redirects < 0:
            raise ConfigurationError("max_redirects must not be negative", code="config.invalid")
        object.__setattr__(self, "_v4", tuple(n for n in self.networks if isinstance(n, IPv4Network)))
        object.__setattr__(self, "_v6", tuple(n for n in self.networks if isinstance(n, IPv6Network)))

    @classmethod
    def build(
        cls, *, http_hosts: Iterable[str] = (), networks: Iterable[str] = (), max_redirects: int = 5
    ) -> EgressPolicy:
        hosts = frozenset(normalise_host(h.strip())[0] for h in http_hosts if h.strip())
        nets = tuple(_parse_network(n) for n in networks if n.strip())
        return cls(http_hosts=hosts, networks=nets, max_redirects=max_redirects)

    def blocked_reason(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be reached, or None when it may."""
        if isinstance(address, IPv6Address):
            if address.scope_id:
                address = IPv6Address(str(address).split("%", 1)[0])
            inner = embedded_ipv4(address)
            if inner is not None:
                return self.blocked_reason(inner)
        if address in METADATA_ADDRESSES:
            exact = ip_network(address)
            return None if exact in self.networks else "cloud metadata address"
        allowed: tuple[IPNetwork, ...] = self._v4 if address.version == 4 else self._v6
        if any(address in net for net in allowed):
            return None
        for net, why in BLOCKED_RANGES:
            if address in net:
                return why
        return None

    def check_address(self, host: str, address: str | IPAddress) -> IPAddress:
        """Refuse ``address`` (``host`` itself, or an answer for it) when blocked; the checked address otherwise.

        The error names an address only when the caller wrote it: what a name resolves to stays private."""
        if isinstance(address, str):
            try:
                address = ip_address(address.split("%", 1)[0])
            except ValueError:
                raise _blocked(f"{host!r} resolved to {address!r}, not an address", "malformed") from None
        why = self.blocked_reason(address)
        if why is None:
            return address
        if host.strip("[]").lower().split("%", 1)[0] == str(address):
            detail = f"egress refused: the address {address} is blocked ({why})"
        else:
            detail = f"egress refused: the host {host!r} resolves to a blocked address ({why})"
        remediation = (
            f"Cloud metadata addresses are refused unless {NETWORKS_SETTING} names the address itself."
            if why == "cloud metadata address"
            else f"If this is a service you run on purpose, add its network to {NETWORKS_SETTING}."
        )
        raise _blocked(detail, "blocked_address", remediation=remediation)

    def check_target(
        self, scheme: str, host: str | None, port: int | None, *, userinfo: bool = False
    ) -> Target:
        """Judge a URL as an HTTP library parsed it (the view that decides where it connects)."""
        scheme = scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise _blocked(f"the scheme {scheme!r} is not allowed; use https", "scheme")
        if userinfo:
            raise _blocked(
                "a URL may not carry a user name or password",
                "userinfo",
                remediation="Send credentials in headers (the connector's auth), not in the URL.",
            )
        name, address = normalise_host(host or "")
        port = DEFAULT_PORTS[scheme] if port is None else port
        if not 0 < port < 65536:
            raise _blocked(f"the port {port} is not valid", "malformed")
        if scheme == "http" and name not in self.http_hosts:
            raise _blocked(
                f"plain http is not allowed to {name!r}; use https",
                "scheme",
                remediation=f"An operator may allow plain http to a host with {HTTP_HOSTS_SETTING}.",
            )
        if address is not None:
            self.check_address(name, address)
        return Target(scheme, name, port, address)

    def check_url(self, url: str) -> Target:
        """Judge a URL string: refuses characters that HTTP libraries read differently, then the target."""
        if any(c in _BAD_URL_CHARS for c in url) or not url.isprintable():
            raise _blocked("the URL holds a backslash, whitespace or a control character", "malformed")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise _blocked("the URL cannot be parsed", "malformed") from None
        userinfo = "@" in parts.netloc
        return self.check_target(parts.scheme, parts.hostname, port, userinfo=userinfo)
