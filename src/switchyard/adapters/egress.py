"""Resolving behind the egress guard: a name is looked up once, every answer checked, a checked one used.

``resolve_checked`` refuses a name when *any* of its addresses is blocked, not only the first: HTTP clients
try the answers in turn (happy eyeballs), so a name answering one public and one private address (a common
DNS-rebinding trick) would otherwise reach the private one on a retry. ``GuardedResolver`` plugs this into
aiohttp: the connector connects to the very addresses that were checked (they are handed over as numeric
answers, so nothing resolves the name a second time). Checked answers are kept for a short time (30 s by
default), so a busy provider costs no lookup per request; a cached answer is still a checked, pinned one.
"""

from __future__ import annotations

import asyncio
import socket
from functools import partial
from typing import TYPE_CHECKING

from aiohttp.abc import AbstractResolver, ResolveResult

from switchyard.core.egress import EgressPolicy, normalise_host
from switchyard.core.errors import UpstreamError

if TYPE_CHECKING:
    from switchyard.settings import Settings

_NUMERIC = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV


def policy_from_settings(settings: Settings) -> EgressPolicy:
    """The operator's egress policy (``SWITCHYARD_EGRESS_*``)."""
    return EgressPolicy.build(
        http_hosts=settings.http_allowed_hosts,
        networks=settings.allowed_networks,
        max_redirects=settings.egress_max_redirects,
    )


async def resolve_checked(
    policy: EgressPolicy, host: str, port: int, *, family: int = socket.AF_UNSPEC
) -> list[str]:
    """Every address of ``host``, each checked; ``EgressBlocked`` when any is blocked.

    An address literal is checked without a lookup. A name that does not resolve is ``UpstreamError``
    (``provider.unavailable``)."""
    name, literal = normalise_host(host)
    if literal is not None:
        return [str(policy.check_address(name, literal))]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(name, port, family=family, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UpstreamError(
            f"the host {name!r} could not be resolved ({type(exc).__name__})",
            code="provider.unavailable",
            remediation="Check the host name; a name that does not resolve cannot be called.",
        ) from None
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        text = str(policy.check_address(name, str(sockaddr[0])))
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise UpstreamError(f"the host {name!r} has no address", code="provider.unavailable")
    return addresses


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver behind the guard, with a short-lived cache of checked answers.

    Concurrent lookups of one name share a single query. Failures and refusals are not cached."""

    def __init__(self, policy: EgressPolicy, *, ttl: float = 30.0, max_names: int = 4096) -> None:
        self.policy = policy
        self.ttl = ttl
        self.max_names = max_names
        self.lookups = 0  # queries sent to the system resolver (cache misses)
        self._cache: dict[str, tuple[float, list[str]]] = {}
        self._pending: dict[str, asyncio.Task[list[str]]] = {}

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self.addresses(host, port)
        out: list[ResolveResult] = []
        for address in addresses:
            fam = socket.AF_INET6 if ":" in address else socket.AF_INET
            if family and fam != family:
                continue
            out.append(
                {
                    "hostname": host,
                    "host": address,
                    "port": port,
                    "family": fam,
                    "proto": 0,
                    "flags": _NUMERIC,
                }
            )
        if not out:
            raise UpstreamError(f"the host {host!r} has no address of the wanted family")
        return out

    async def addresses(self, host: str, port: int) -> list[str]:
        loop = asyncio.get_running_loop()
        hit = self._cache.get(host)
        if hit is not None and hit[0] > loop.time():
            return hit[1]
        task = self._pending.get(host)
        if task is None:
            task = loop.create_task(self._lookup(host, port))
            self._pending[host] = task
            task.add_done_callback(partial(self._settled, host))
        return await asyncio.shield(task)

    async def _lookup(self, host: str, port: int) -> list[str]:
        self.lookups += 1
        addresses = await resolve_checked(self.policy, host, port)
        loop = asyncio.get_running_loop()
        if self.ttl > 0:
            if len(self._cache) >= self.max_names:
                self._evict(loop.time())
            self._cache[host] = (loop.time() + self.ttl, addresses)
        return addresses

    def _settled(self, host: str, task: asyncio.Task[list[str]]) -> None:
        if self._pending.get(host) is task:
            del self._pending[host]
        if not task.cancelled():
            task.exception()  # retrieved here, so an abandoned failure logs no warning

    def _evict(self, now: float) -> None:
        for host in [h for h, (until, _) in self._cache.items() if until <= now]:
            del self._cache[host]
        while len(self._cache) >= self.max_names:
            del self._cache[next(iter(self._cache))]

    def forget(self) -> None:
        """Drop every cached answer (the next call to each host looks it up again)."""
        self._cache.clear()

    async def close(self) -> None:
        for task in list(self._pending.values()):
            task.cancel()
        self._pending.clear()
        self._cache.clear()
