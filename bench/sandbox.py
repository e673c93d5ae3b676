"""What the sandbox costs a hook call: a trivial hook run four ways, in one run.

    python bench/sandbox.py [--calls 200] [--cold-calls 30]

* in-process: the same function awaited in this process (the baseline);
* reused: the same bundle again and again, so each call goes to a sandbox that has loaded it (the common
  case: ``max_calls`` and ``idle_seconds`` bound it);
* warm pool: a pre-started sandbox that has loaded nothing takes each call, loads the package and runs it
  (the first call of a package; the pool is refilled, outside the timing, before the next call);
* cold: no pool, a new sandbox started for every call (bwrap, prlimit, the interpreter, the guest).

Prints p50 and p99 per way, and last the ratio of the reused p50 to the in-process p50.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import time
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from switchyard.adapters.sandbox.runner import CodeBundle, SandboxLimits, SandboxRunner
from switchyard.core.errors import SandboxUnavailable

CODE = """
async def double(ctx, input):
    return {"value": input["value"] * 2}
"""


async def double(ctx: object, payload: dict[str, Any]) -> dict[str, Any]:  # the same hook, in-process
    return {"value": payload["value"] * 2}


def archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("manifest.json", '{"name": "bench", "version": "1.0.0"}')
        bundle.writestr("connector.py", CODE)
    return buffer.getvalue()


async def no_host(method: str, params: dict[str, Any]) -> Any:
    raise RuntimeError("the bench hook makes no host call")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def timed(
    calls: int, one: Callable[[int], Awaitable[Any]], before: Callable[[], Awaitable[None]] | None = None
) -> list[float]:
    samples = []
    for n in range(calls):
        if before is not None:
            await before()
        start = time.perf_counter()
        result = await one(n)
        samples.append((time.perf_counter() - start) * 1000)
        assert result == {"value": n * 2}, result
    return samples


async def measure(calls: int, cold_calls: int) -> dict[str, list[float]]:
    limits = SandboxLimits(wall_seconds=30, cpu_seconds=60)
    data = archive()
    options: dict[str, Any] = {"config": {}, "connection_id": "conn_bench", "host": no_host}
    results: dict[str, list[float]] = {}

    results["in-process"] = await timed(calls * 10, lambda n: double(None, {"value": n}))

    reusing = SandboxRunner(limits, warm_pool=1, max_calls=calls * 10)
    try:
        await reusing.fill()
        bundle = CodeBundle("ten_bench:bench:1.0.0:reused", "ten_bench", data)
        await reusing.run(bundle, "double", {"value": 0}, **options)  # load it once, outside the timing
        results["reused"] = await timed(
            calls, lambda n: reusing.run(bundle, "double", {"value": n}, **options)
        )
    finally:
        await reusing.close()

    warm = SandboxRunner(limits, warm_pool=1, max_calls=1)
    try:
        await warm.fill()
        results["warm pool"] = await timed(
            cold_calls,
            lambda n: warm.run(
                CodeBundle(f"ten_bench:bench:1.0.0:w{n}", "ten_bench", data),
                "double",
                {"value": n},
                **options,
            ),
            before=warm.fill,
        )
    finally:
        await warm.close()

    cold = SandboxRunner(limits, warm_pool=0, max_calls=1)
    try:
        await cold.fill()  # the one-off probe, outside the timing
        results["cold"] = await timed(
            cold_calls,
            lambda n: cold.run(
                CodeBundle(f"ten_bench:bench:1.0.0:c{n}", "ten_bench", data),
                "double",
                {"value": n},
                **options,
            ),
        )
    finally:
        await cold.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200, help="timed calls of the reused sandbox")
    parser.add_argument("--cold-calls", type=int, default=30, help="timed calls of the cold and warm ways")
    args = parser.parse_args()
    try:
        results = asyncio.run(measure(args.calls, args.cold_calls))
    except SandboxUnavailable as exc:
        raise SystemExit(f"the sandbox cannot run here: {exc.detail}") from None

    print(f"python {sys.version.split()[0]}; {os.cpu_count()} cpus; trivial async hook")
    print(f"{'way':<12}{'calls':>7}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    for name in ("in-process", "reused", "warm pool", "cold"):
        samples = results[name]
        print(
            f"{name:<12}{len(samples):>7}{percentile(samples, 0.5):>10.4f}{percentile(samples, 0.99):>10.4f}"
            f"{statistics.fmean(samples):>10.4f}"
        )
    base = percentile(results["in-process"], 0.5)
    for name in ("warm pool", "cold"):
        print(
            f"{name} p50 / reused p50: {percentile(results[name], 0.5) / percentile(results['reused'], 0.5):.1f}"
        )
    ratio = percentile(results["reused"], 0.5) / base
    print(f"ratio: reused sandbox p50 / in-process p50 = {ratio:.0f}")


if __name__ == "__main__":
    main()
