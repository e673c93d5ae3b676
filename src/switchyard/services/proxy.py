"""Calling a provider with a connection's credentials: the engine under the proxy route and the actions.

One call goes through, in order: the connection's target (credentials refreshed when due), the tenant's
global rate limit and the definition's limits (refused before the call: ``RateLimited``), the provider's
circuit breaker for this tenant (``CircuitOpen``), then the data-plane client behind the egress guard.
Retryable answers (the definition's ``retryableStatuses``, or the caller's ``Retry-On``) and network
failures are retried with backoff and jitter that honour ``Retry-After`` and reset headers: idempotent
requests by default, others only when the caller asks for retries. A streamed body is sent once.
Every call is logged (provider, connection, status, attempts, timing; never a credential) and counted, and
each request sent stamps the connection's last use (``services.usage``: throttled, written in the background).

The proxy's hot path runs this once per request, so ``open`` is a plain async context manager (no generator,
no exit stack), the retry policy and metric children are reused, and the per-target values (header names,
encoded query, limit and breaker keys) come with the cached target.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import Counter, Histogram

from switchyard.core import retry
from switchyard.core.auth import oauth1
from switchyard.core.errors import EgressBlocked, InvalidInput, RateLimited, UpstreamError
from switchyard.core.http import Headers, Outbound, Rate
from switchyard.io_ports import CircuitBreakers, DataHttp, RateLimiter, Upstream
from switchyard.logs import get_logger
from switchyard.services.targets import Target, Targets
from switchyard.services.usage import UsageStamps

log = get_logger("switchyard.proxy")
CALLS = Counter("switchyard_provider_calls_total", "Calls to providers", ["provider", "outcome"])
CALL_SECONDS = Histogram("switchyard_provider_call_seconds", "Provider call latency", ["provider"])
RETRIES = Counter("switchyard_provider_retries_total", "Retried provider calls", ["provider"])
REFUSED = Counter("switchyard_calls_refused_total", "Calls refused before reaching a provider", ["reason"])
_children: dict[tuple[object, ...], Any] = {}  # (metric, *labels): the labelled child
_policies: dict[tuple[int, frozenset[int]], retry.RetryPolicy] = {}
_MAX_REMEMBERED = 4096


def _child(metric: Counter | Histogram, *labels: str) -> Any:
    """``metric.labels(*labels)``, remembered (prometheus keeps every child for the process's life anyway)."""
    key = (metric, *labels)
    child = _children.get(key)
    if child is None:
        child = metric.labels(*labels)
        if len(_children) < _MAX_REMEMBERED:
            _children[key] = child
    return child


def _policy(max_retries: int, statuses: frozenset[int]) -> retry.RetryPolicy:
    key = (max_retries, statuses)
    policy = _policies.get(key)
    if policy is None:
        policy = retry.RetryPolicy(max_retries=max_retries, statuses=statuses)
        if len(_policies) < _MAX_REMEMBERED:
            _policies[key] = policy
    return policy


@dataclass(frozen=True)
class ProxyOptions:
    """Per-call options (the proxy route reads them from ``Retries``, ``Retry-On``, ``Base-Url-Override``)."""

    retries: int | None = None  # None: the default, for idempotent requests only; a number opts in
    retry_on: frozenset[int] | None = None  # statuses to retry on, instead of the definition's
    base_url: str | None = None  # instead of the definition's base URL; checked by the egress guard


@dataclass(frozen=True)
class Call:
    method: str
    target: str  # path and query string relative to the base URL, or an absolute URL on the same origin
    headers: Headers
    body: bytes | AsyncIterable[bytes] | None = None


@dataclass
class Exchange:
    upstream: Upstream
    target: Target
    attempts: int
    started: float

    @property
    def provider(self) -> str:
        return self.target.provider


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _join(base: str, call: Call, query: str) -> str:
    """The call's URL: its target under ``base`` (or on base's origin), with the injected ``query`` added."""
    target = call.target
    if target.startswith(("https://", "http://")):
        if _origin(target) != _origin(base):
            raise EgressBlocked(
                "a next-page URL leaves the provider's origin; credentials are not sent there",
                code="egress.blocked",
            )
        url = target
    else:
        url = base + (target if target.startswith("/") else "/" + target)
    if query:
        url += ("&" if "?" in url else "?") + query
    return url


class ProxyService:
    def __init__(
        self,
        targets: Targets,
        http: DataHttp,
        limiter: RateLimiter,
        breakers: CircuitBreakers,
        *,
        tenant_rates: Sequence[Rate],
        default_retries: int,
        timeout: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        usage: UsageStamps | None = None,
    ) -> None:
        self.targets = targets
        self.http = http
        self.limiter = limiter
        self.breakers = breakers
        self.tenant_rates = tuple(tenant_rates)
        self.default_retries = default_retries
        self.timeout = timeout
        self._sleep = sleep
        self._rand = rand
        self.usage = usage if usage is not None else UsageStamps(targets.db)

    async def close(self) -> None:
        """Write the pending last-used stamps (the limiter and breakers are closed by their owner)."""
        await self.usage.close()

    async def _admit(self, target: Target) -> None:
        if self.tenant_rates:
            wait = await self.limiter.hit(target.tenant_limit_key, self.tenant_rates)
            if wait is not None:
                REFUSED.labels("rate_limit.tenant").inc()
                raise RateLimited("the tenant rate limit is reached", retry_after=wait, scope="tenant")
        if target.rates:
            wait = await self.limiter.hit(target.limit_key, target.rates)
            if wait is not None:
                REFUSED.labels("rate_limit.provider").inc()
                raise RateLimited(
                    f"the {target.provider} rate limit is reached", retry_after=wait, scope="provider"
                )
        await self.breakers.check(target.breaker_key)

    def _headers(self, target: Target, call: Call, url: str) -> Headers:
        names = target.header_names
        headers = [h for h in call.headers if h[0].lower() not in names] if names else list(call.headers)
        headers += target.headers
        if target.oauth1 is not None:
            keys = target.oauth1
            body = call.body if isinstance(call.body, bytes) else None
            signed = oauth1.sign(
                call.method, url, dict(headers), body,
                keys.consumer_key, keys.consumer_secret, keys.token, keys.token_secret,
            )  # fmt: skip
            headers = list(signed.items())
        return headers

    def open(
        self,
        tenant_id: str,
        connection_id: str,
        call: Call,
        options: ProxyOptions = ProxyOptions(),
        *,
        purpose: str = "proxy",
        idempotent: bool | None = None,
        max_response_bytes: int | None = None,
    ) -> _Opened:
        """Send ``call`` for the connection; ``async with`` yields the provider's answer (an ``Exchange``),
        released when the block ends."""
        return _Opened(self, tenant_id, connection_id, call, options, purpose, idempotent, max_response_bytes)

    async def _send(self, opened: _Opened) -> Exchange:
        """Admit, send and retry until an answer is final; ``opened`` keeps the answer's context."""
        call, options, tenant_id, connection_id = (
            opened.call,
            opened.options,
            opened.tenant_id,
            opened.connection_id,
        )
        started = opened.started
        target = await self.targets.get(tenant_id, connection_id, opened.purpose)
        await self._admit(target)
        base = (options.base_url or target.base_url or "").rstrip("/")
        if not base:
            raise InvalidInput(f"{target.provider} has no HTTP API to proxy", code="proxy.not_http")
        hints = target.definition.retry
        statuses = options.retry_on if options.retry_on is not None else target.retry_statuses
        idempotent = opened.idempotent
        safe = retry.is_idempotent(call.method, call.headers) if idempotent is None else idempotent
        allowed = (self.default_retries if safe else 0) if options.retries is None else options.retries
        replayable = isinstance(call.body, bytes | None)
        if not replayable:
            allowed = 0  # a streamed body cannot be sent twice
        policy = _policy(allowed, statuses)
        attempt, renewed, spent = 0, False, 0.0
        while True:
            attempt += 1
            url = _join(base, call, target.encoded_query)
            request = Outbound(
                call.method, url, self._headers(target, call, url), call.body,
                timeout=self.timeout, max_response_bytes=opened.max_response_bytes,
            )  # fmt: skip
            answer = self.http.open(request)
            try:
                upstream = await answer.__aenter__()
            except UpstreamError as exc:
                self.usage.used(tenant_id, connection_id)  # the request may have reached the provider
                await self.breakers.record(target.breaker_key, success=False)
                delay = retry.delay(policy, attempt, None, (), hints, rand=self._rand, spent=spent)
                if delay is None:
                    self._done(target, call, exc.code, attempt, started)
                    raise
                _child(RETRIES, target.provider).inc()
                spent += delay
                await self._sleep(delay)
                continue
            self.usage.used(tenant_id, connection_id)
            try:
                status = upstream.status
                if status == 401 and not renewed and replayable:
                    renewed = True  # the token may have been refreshed or replaced elsewhere: look again once
                    self.targets.forget(connection_id)
                    fresh = await self.targets.get(tenant_id, connection_id, opened.purpose)
                    if fresh.headers != target.headers or fresh.query != target.query:
                        await answer.__aexit__(None, None, None)
                        target = fresh
                        continue
                delay = None
                if status in policy.statuses:
                    delay = retry.delay(
                        policy, attempt, status, upstream.headers, hints, rand=self._rand, spent=spent
                    )
                if delay is not None:
                    await answer.__aexit__(None, None, None)
                    await self.breakers.record(target.breaker_key, success=status < 500)
                    _child(RETRIES, target.provider).inc()
                    spent += delay
                    await self._sleep(delay)
                    continue
                await self.breakers.record(target.breaker_key, success=status < 500)
            except BaseException as exc:
                await answer.__aexit__(type(exc), exc, exc.__traceback__)
                raise
            opened.answer = answer
            return Exchange(upstream, target, attempt, started)

    def _done(self, target: Target, call: Call, outcome: str, attempts: int, started: float) -> None:
        elapsed = time.perf_counter() - started
        _child(CALLS, target.provider, outcome).inc()
        _child(CALL_SECONDS, target.provider).observe(elapsed)
        log.info(
            "provider.call",
            provider=target.provider,
            connection_id=target.connection.id,
            method=call.method,
            outcome=outcome,
            attempts=attempts,
            duration_ms=round(elapsed * 1000, 2),
        )


class _Opened:
    """``async with proxy.open(...) as exchange``: the answer is released and the call logged on exit."""

    __slots__ = (
        "answer", "call", "connection_id", "exchange", "idempotent", "max_response_bytes", "options",
        "purpose", "service", "started", "tenant_id",
    )  # fmt: skip

    def __init__(
        self,
        service: ProxyService,
        tenant_id: str,
        connection_id: str,
        call: Call,
        options: ProxyOptions,
        purpose: str,
        idempotent: bool | None,
        max_response_bytes: int | None,
    ) -> None:
        self.service, self.tenant_id, self.connection_id, self.call = service, tenant_id, connection_id, call
        self.options, self.purpose, self.idempotent = options, purpose, idempotent
        self.max_response_bytes = max_response_bytes
        self.started = 0.0
        self.answer: AbstractAsyncContextManager[Upstream] | None = None
        self.exchange: Exchange | None = None

    async def __aenter__(self) -> Exchange:
        self.started = time.perf_counter()
        self.exchange = await self.service._send(self)
        return self.exchange

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        answer, exchange, self.answer, self.exchange = self.answer, self.exchange, None, None
        if answer is None or exchange is None:
            return
        try:
            status = str(exchange.upstream.status)
            self.service._done(exchange.target, self.call, status, exchange.attempts, self.started)
        finally:
            await answer.__aexit__(exc_type, exc, tb)
