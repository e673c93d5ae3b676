"""Retry and rate rules: how long to wait before calling a provider again, and what a limit string means.

``delay`` is the one decision the service loop asks for after each attempt. It answers ``None`` when the
answer must be passed on as it is (the status is not retryable, the retries are spent, or the provider asks
for a longer wait than the policy's budget), else the seconds to sleep:

* the provider's own word first: ``Retry-After`` (seconds or an HTTP date), then the definition's reset
  header in its ``reset_format`` (epoch seconds, also in milliseconds; seconds, also as a duration such as
  ``6m0s``, ``1.5s`` or ``20ms``; an HTTP date). The reset header explains a refusal only when the
  remaining-calls header says ``0``, or, where no such header is present, when the status is 429;
* otherwise (or when the named time has passed) exponential backoff with full jitter: a uniform draw in
  ``[0, min(cap, base * 2**(n-1)))``; the random source and "now" are parameters, for tests.

``server_wait`` is the provider's requested wait alone (what a 429 turned into ``RateLimited`` reports).

A limit string is ``N/unit`` or ``N per [M] unit`` (``10/second``, ``100/minute``, ``5 per hour``,
``1000/s``, ``10 per 5 minutes``); several are separated by ``;`` or ``,``.

``rates_from`` turns a definition's ``rateLimits`` into moving-window rates. Windows are whole seconds;
a fractional rate becomes a whole count over a longer window, never looser than declared (2.5/s is 5 per
2 s). ``burst`` B is the most calls within any one second: with a per-second rate r below B, the sustained
rate is kept as 60·r per minute, so a client may spend B in a second but not every second; with B at or
under r, B per second is the (stricter) whole rule. ``concurrency`` is not a rate and is not returned.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from fractions import Fraction

from switchyard.core.clock import utcnow
from switchyard.core.errors import InvalidInput
from switchyard.core.http import Rate
from switchyard.core.manifest.schema import RateLimits, RetryHints

HeaderSource = Mapping[str, str] | Iterable[tuple[str, str]]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
DEFAULT_STATUSES = frozenset({429, 502, 503, 504})
_EPOCH_MILLIS_FROM = 1e11  # an epoch in seconds passes this in the year 5138; above it, it is milliseconds
_NO_HINTS = RetryHints()


@dataclass(frozen=True)
class RetryPolicy:
    """``max_retries`` after the first attempt; backoff ``base_delay`` doubling up to ``max_delay``;
    a provider's requested wait is honoured up to ``max_wait`` (beyond it the answer is passed on)."""

    max_retries: int = 3
    statuses: frozenset[int] = field(default=DEFAULT_STATUSES)
    base_delay: float = 0.25
    max_delay: float = 10.0
    max_wait: float = 30.0
    retry_network_errors: bool = True

    @classmethod
    def from_hints(cls, hints: RetryHints, *, max_retries: int = 3) -> RetryPolicy:
        """A policy retrying the statuses a definition declares retryable (``dataclasses.replace`` for more)."""
        return cls(max_retries=max_retries, statuses=frozenset(hints.retryable_statuses))


def delay(
    policy: RetryPolicy,
    attempt: int,
    status: int | None,
    headers: HeaderSource,
    hints: RetryHints | None = None,
    *,
    now: datetime | None = None,
    rand: Callable[[], float] = random.random,
    spent: float = 0.0,
) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or None to stop and pass the answer on.

    ``attempt`` counts the attempts made so far (1 after the first call); ``status`` is None for a network
    failure; ``spent`` is the time already slept for this call, counted against ``policy.max_wait``.
    """
    if attempt > policy.max_retries:
        return None
    if status is None:
        if not policy.retry_network_errors:
            return None
    elif status not in policy.statuses:
        return None
    wait = server_wait(status, headers, hints, now=now) if status is not None else None
    if not wait:  # none named, or the reset time has passed
        wait = backoff(policy, attempt, rand)
    if wait + spent > policy.max_wait:
        return None
    return wait


def backoff(policy: RetryPolicy, attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Full jitter: uniform in ``[0, min(max_delay, base_delay * 2**(attempt-1)))``."""
    ceiling = min(policy.max_delay, policy.base_delay * 2.0 ** min(max(attempt - 1, 0), 62))
    return rand() * ceiling


def server_wait(
    status: int, headers: HeaderSource, hints: RetryHints | None = None, *, now: datetime | None = None
) -> float | None:
    """The wait (seconds, at least 0) the provider asks for in its answer, or None when it names none."""
    hints = _NO_HINTS if hints is None else hints
    now = utcnow() if now is None else now
    found = _lower(headers)
    wait = None
    if hints.retry_after_header and (value := found.get(hints.retry_after_header.lower())) is not None:
        wait = _seconds_or_date(value, now)
    if wait is None and hints.rate_limit_reset_header:
        value = found.get(hints.rate_limit_reset_header.lower())
        if value is not None and _reset_explains(status, found, hints):
            wait = _reset(value, hints.reset_format, now)
    return None if wait is None else max(wait, 0.0)


def _reset_explains(status: int, found: Mapping[str, str], hints: RetryHints) -> bool:
    """A reset time explains a failure when no calls remain (or, without that header, on a 429)."""
    name = hints.rate_limit_remaining_header
    remaining = found.get(name.lower()) if name else None
    if remaining is None:
        return status == 429
    return _number(remaining) == 0


def is_idempotent(method: str, headers: HeaderSource | None = None) -> bool:
    """Safe to send twice: RFC 9110's idempotent methods, or any request carrying an ``Idempotency-Key``."""
    if method.upper() in IDEMPOTENT_METHODS:
        return True
    return headers is not None and "idempotency-key" in _lower(headers)


def _lower(headers: HeaderSource) -> dict[str, str]:
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return {name.lower(): value.strip() for name, value in pairs}


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _http_date(text: str, now: datetime) -> float | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - now).total_seconds()


def _seconds_or_date(text: str, now: datetime) -> float | None:
    number = _number(text)
    return number if number is not None else _http_date(text, now)


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|h|m|s)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float | None:
    """``6m0s``, ``1.5s``, ``20ms``, ``1h2m3s`` -> seconds; None when the text is not such a duration."""
    text = text.strip()
    if not text:
        return None
    total, position = 0.0, 0
    for part in _DURATION_PART.finditer(text):
        if part.start() != position:
            return None
        total += float(part.group(1)) * _UNIT_SECONDS[part.group(2)]
        position = part.end()
    return total if position == len(text) else None


def _reset(text: str, reset_format: str, now: datetime) -> float | None:
    if reset_format == "http_date":
        return _http_date(text, now)
    number = _number(text)
    if reset_format == "seconds":
        return number if number is not None else parse_duration(text)
    if number is None:  # epoch_seconds
        return None
    epoch = number / 1000 if number >= _EPOCH_MILLIS_FROM else number
    return epoch - now.timestamp()


_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
}
_RATE = re.compile(r"(\d+)\s*(?:/|\s+per\s+)\s*(\d+)?\s*([a-z]+)", re.IGNORECASE)


def parse_rate(text: str) -> Rate:
    """One limit string (``10/second``, ``5 per hour``, ``1000/s``, ``10 per 5 minutes``) -> ``Rate``."""
    match = _RATE.fullmatch(text.strip())
    unit = _UNITS.get(match.group(3).lower()) if match else None
    if match is None or unit is None:
        raise InvalidInput(
            f"{text!r} is not a rate limit",
            code="rate_limit.invalid",
            remediation="Write N/unit or 'N per [M] unit', unit one of second, minute, hour, day "
            "(e.g. '10/second', '100 per minute', '1000 per 5 minutes').",
        )
    amount, multiple = int(match.group(1)), int(match.group(2) or 1)
    if amount < 1 or multiple < 1:
        raise InvalidInput(
            f"{text!r}: the count and the window must be at least 1", code="rate_limit.invalid"
        )
    return Rate(amount, float(multiple * unit))


def parse_rates(text: str) -> list[Rate]:
    """Limit strings separated by ``;`` or ``,``; an empty string is no limit at all."""
    return [parse_rate(part) for part in re.split(r"[;,]", text) if part.strip()]


def _per(amount: float, window: int) -> Rate:
    """``amount`` per ``window`` seconds as a whole count over a whole window, never looser than declared."""
    if amount >= 1 and float(amount).is_integer():
        return Rate(int(amount), float(window))
    scale = Fraction(amount).limit_denominator(1000).denominator
    count = math.floor(amount * scale)
    if count >= 1:
        return Rate(count, float(window * scale))
    return Rate(1, float(math.ceil(window / amount)))


def rates_from(limits: RateLimits) -> list[Rate]:
    """A definition's declared limits as moving-window rates (see the module docstring for ``burst``)."""
    rates: list[Rate] = []
    per_second, burst = limits.requests_per_second, limits.burst
    if burst is not None:
        rates.append(Rate(burst, 1.0))
        if per_second is not None and burst > per_second:
            rates.append(_per(per_second * 60, 60))
    elif per_second is not None:
        rates.append(_per(per_second, 1))
    if limits.requests_per_minute is not None:
        rates.append(_per(limits.requests_per_minute, 60))
    if limits.requests_per_hour is not None:
        rates.append(_per(limits.requests_per_hour, 3600))
    return list(dict.fromkeys(rates))
