"""Pure retry rules: backoff with jitter, the provider's wait headers in every form, limit strings, rates."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchyard.core import retry
from switchyard.core.errors import InvalidInput
from switchyard.core.http import Rate
from switchyard.core.manifest.schema import RateLimits, RetryHints

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
POLICY = retry.RetryPolicy(max_retries=5, base_delay=0.5, max_delay=8.0, max_wait=60.0)
HALF = lambda: 0.5  # noqa: E731
GITHUB = RetryHints(
    rate_limit_reset_header="X-RateLimit-Reset",
    rate_limit_remaining_header="X-RateLimit-Remaining",
    reset_format="epoch_seconds",
    retryable_statuses=[403, 429, 502, 503],
)


def wait(
    status: int | None, headers: object = (), hints: RetryHints | None = None, **kw: object
) -> float | None:
    policy = kw.pop("policy", POLICY)
    attempt = kw.pop("attempt", 1)
    return retry.delay(policy, attempt, status, headers, hints, now=NOW, rand=HALF, **kw)  # type: ignore[arg-type]


# --- backoff -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (9, 8.0)])
def test_full_jitter_stays_within_zero_and_the_capped_ceiling(attempt: int, ceiling: float) -> None:
    assert retry.backoff(POLICY, attempt, rand=lambda: 0.0) == 0.0
    assert retry.backoff(POLICY, attempt, rand=HALF) == pytest.approx(ceiling / 2)
    top = retry.backoff(POLICY, attempt, rand=lambda: 0.999999)
    assert ceiling * 0.999 < top < ceiling


def test_jitter_draws_from_the_whole_range_with_the_real_random_source() -> None:
    draws = [retry.backoff(POLICY, 4) for _ in range(2000)]
    assert all(0 <= d < 4.0 for d in draws)
    assert min(draws) < 0.5 and max(draws) > 3.5  # spread, not a fixed delay


def test_a_huge_attempt_number_is_still_capped() -> None:
    assert retry.backoff(POLICY, 10_000, rand=lambda: 0.999999) < 8.0


def test_network_failure_backs_off_unless_the_policy_says_no() -> None:
    assert wait(None, attempt=3) == pytest.approx(1.0)
    assert wait(None, policy=dataclasses.replace(POLICY, retry_network_errors=False)) is None


# --- what must not be retried ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422, 500, 501])
def test_statuses_outside_the_policy_are_not_retried(status: int) -> None:
    assert wait(status, [("Retry-After", "1")]) is None


def test_no_retry_once_the_retries_are_spent() -> None:
    policy = retry.RetryPolicy(max_retries=2)
    assert retry.delay(policy, 2, 503, ()) is not None
    assert retry.delay(policy, 3, 503, ()) is None
    assert retry.delay(retry.RetryPolicy(max_retries=0), 1, 503, ()) is None


def test_a_wait_longer_than_the_budget_passes_the_answer_on() -> None:
    assert wait(429, [("Retry-After", "60")]) == 60.0
    assert wait(429, [("Retry-After", "61")]) is None
    assert wait(429, [("Retry-After", "30")], spent=31.0) is None  # the budget counts waits already slept


def test_the_policy_can_come_from_a_definitions_hints() -> None:
    policy = retry.RetryPolicy.from_hints(GITHUB, max_retries=2)
    assert policy.statuses == frozenset({403, 429, 502, 503}) and policy.max_retries == 2
    assert retry.delay(policy, 1, 504, ()) is None


# --- Retry-After -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "seconds"), [("7", 7.0), ("1.5", 1.5), (" 12 ", 12.0)])
def test_retry_after_in_seconds(value: str, seconds: float) -> None:
    assert wait(503, [("Retry-After", value)]) == seconds


def test_retry_after_as_an_http_date() -> None:
    header = format_datetime(NOW + timedelta(seconds=12), usegmt=True)
    assert wait(429, [("retry-after", header)]) == pytest.approx(12.0)


@pytest.mark.parametrize("value", ["0", "soon", "", format_datetime(NOW - timedelta(seconds=5), usegmt=True)])
def test_a_useless_retry_after_falls_back_to_backoff(value: str) -> None:
    assert wait(503, [("Retry-After", value)], attempt=2) == pytest.approx(0.5)  # 1.0 * 0.5


def test_header_names_are_case_insensitive_and_mappings_work_too() -> None:
    assert wait(503, {"RETRY-AFTER": "3"}) == 3.0
    hints = RetryHints(retry_after_header="X-Wait")
    assert wait(503, [("x-wait", "4")], hints) == 4.0
    assert wait(503, [("Retry-After", "4")], hints) == pytest.approx(0.25)  # not the header this API uses


def test_server_wait_reports_the_providers_wait_alone() -> None:
    assert retry.server_wait(429, [("Retry-After", "9")], now=NOW) == 9.0
    assert retry.server_wait(429, [], now=NOW) is None
    past = format_datetime(NOW - timedelta(seconds=5), usegmt=True)
    assert retry.server_wait(429, [("Retry-After", past)], now=NOW) == 0.0


# --- the definition's reset header -------------------------------------------------------------------


def test_epoch_reset_counts_when_no_calls_remain() -> None:
    reset = str(int(NOW.timestamp()) + 30)
    headers = [("X-RateLimit-Reset", reset), ("X-RateLimit-Remaining", "0")]
    policy = dataclasses.replace(POLICY, statuses=frozenset(GITHUB.retryable_statuses))
    assert wait(403, headers, GITHUB, policy=policy) == pytest.approx(30.0)  # GitHub's 403 rate limit


def test_epoch_reset_is_ignored_while_calls_remain() -> None:
    reset = str(int(NOW.timestamp()) + 30)
    headers = [("X-RateLimit-Reset", reset), ("X-RateLimit-Remaining", "17")]
    assert wait(503, headers, GITHUB) == pytest.approx(0.25)


def test_reset_without_a_remaining_header_explains_only_a_429() -> None:
    reset = str(int(NOW.timestamp()) + 20)
    assert wait(429, [("X-RateLimit-Reset", reset)], GITHUB) == pytest.approx(20.0)
    assert wait(503, [("X-RateLimit-Reset", reset)], GITHUB) == pytest.approx(0.25)


def test_epoch_reset_in_milliseconds() -> None:
    reset = str(int(NOW.timestamp() * 1000) + 2500)
    assert wait(429, [("X-RateLimit-Reset", reset)], GITHUB) == pytest.approx(2.5)


def test_retry_after_wins_over_the_reset_header() -> None:
    reset = str(int(NOW.timestamp()) + 30)
    assert wait(429, [("X-RateLimit-Reset", reset), ("Retry-After", "2")], GITHUB) == 2.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("20", 20.0), ("0.5", 0.5), ("6m0s", 360.0), ("1.5s", 1.5), ("20ms", 0.02), ("1h2m3s", 3723.0),
     ("2m30.5s", 150.5), ("750us", 0.00075)],
)  # fmt: skip
def test_reset_in_seconds_and_durations(value: str, seconds: float) -> None:
    hints = RetryHints(rate_limit_reset_header="x-ratelimit-reset-requests", reset_format="seconds")
    policy = dataclasses.replace(POLICY, max_wait=4000.0)
    got = wait(429, [("x-ratelimit-reset-requests", value)], hints, policy=policy)
    assert got == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["6x", "m", "1.5", "5s5", "1s 2s", "-3s"])
def test_durations_that_are_not(value: str) -> None:
    assert retry.parse_duration(value) is None  # a bare number is read as seconds before durations are tried


def test_reset_as_an_http_date() -> None:
    hints = RetryHints(rate_limit_reset_header="RateLimit-Reset", reset_format="http_date")
    header = format_datetime(NOW + timedelta(seconds=45), usegmt=True)
    assert wait(429, [("RateLimit-Reset", header)], hints) == pytest.approx(45.0)
    assert wait(429, [("RateLimit-Reset", "whenever")], hints) == pytest.approx(0.25)


# --- idempotency -------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "head", "OPTIONS", "PUT", "delete", "TRACE"])
def test_idempotent_methods(method: str) -> None:
    assert retry.is_idempotent(method)


@pytest.mark.parametrize("method", ["POST", "PATCH", "CONNECT"])
def test_not_idempotent_unless_an_idempotency_key_is_sent(method: str) -> None:
    assert not retry.is_idempotent(method)
    assert not retry.is_idempotent(method, [("Content-Type", "application/json")])
    assert retry.is_idempotent(method, [("Idempotency-Key", "k-1")])


# --- limit strings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("10/second", Rate(10, 1)),
        ("100/minute", Rate(100, 60)),
        ("5 per hour", Rate(5, 3600)),
        ("1000/s", Rate(1000, 1)),
        ("  7 / MIN ", Rate(7, 60)),
        ("10 per 5 minutes", Rate(10, 300)),
        ("3/2 hours", Rate(3, 7200)),
        ("1/day", Rate(1, 86400)),
    ],
)
def test_limit_strings(text: str, rate: Rate) -> None:
    assert retry.parse_rate(text) == rate


@pytest.mark.parametrize(
    "text",
    ["", "ten/second", "10/fortnight", "0/second", "10/0 seconds", "10 second", "-1/s", "10/", "1.5/s",
     "10persecond", "10/second/minute"],
)  # fmt: skip
def test_bad_limit_strings_are_refused_clearly(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        retry.parse_rate(text)
    assert caught.value.code == "rate_limit.invalid"
    assert caught.value.status == 422


def test_several_limit_strings_and_none() -> None:
    assert retry.parse_rates("") == []
    assert retry.parse_rates("  ") == []
    assert retry.parse_rates("10/second; 1000/hour") == [Rate(10, 1), Rate(1000, 3600)]
    assert retry.parse_rates("10/s,20/m") == [Rate(10, 1), Rate(20, 60)]
    with pytest.raises(InvalidInput):
        retry.parse_rates("10/s;lots")


# --- a definition's rateLimits -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "rates"),
    [
        (RateLimits(requests_per_second=10), [Rate(10, 1)]),
        (RateLimits(requests_per_minute=100), [Rate(100, 60)]),
        (RateLimits(requests_per_hour=5000), [Rate(5000, 3600)]),
        (RateLimits(requests_per_second=10, burst=25), [Rate(25, 1), Rate(600, 60)]),
        (RateLimits(requests_per_second=10, burst=5), [Rate(5, 1)]),
        (RateLimits(burst=3), [Rate(3, 1)]),
        (RateLimits(requests_per_second=2.5), [Rate(5, 2)]),
        (RateLimits(requests_per_second=0.5), [Rate(1, 2)]),
        (RateLimits(requests_per_minute=1, requests_per_hour=30), [Rate(1, 60), Rate(30, 3600)]),
        (RateLimits(requests_per_second=0.5, burst=2), [Rate(2, 1), Rate(30, 60)]),
        (RateLimits(concurrency=4), []),
    ],
)
def test_rates_from_a_definition(limits: RateLimits, rates: list[Rate]) -> None:
    assert retry.rates_from(limits) == rates


@given(st.floats(min_value=1e-4, max_value=1e5, allow_nan=False))
def test_a_fractional_rate_is_never_looser_than_declared(per_minute: float) -> None:
    (rate,) = retry.rates_from(RateLimits(requests_per_minute=per_minute))
    assert rate.amount >= 1 and rate.seconds >= 60 and float(rate.seconds).is_integer()
    assert rate.amount / rate.seconds <= per_minute / 60 * (1 + 1e-9)
