"""An action as an MCP tool call against the same action through the REST API, in one run.

    python bench/mcp.py [--calls 1000] [--concurrency 16] [--warmup 100] [--tool-cache-ttl 5]

Starts two processes:

* the upstream: the tiny JSON endpoint of ``bench/proxy.py`` (aiohttp on uvloop, 401 unless ``X-Api-Key``
  is right);
* Switchyard: ``switchyard serve`` (one uvicorn worker, SQLite in a temp data dir, logging INFO JSON lines to
  a file, every default left as it is except the tenant rate limit, raised from 1,000/s so that no call is
  refused, and the egress guard, loopback allowed).

A tenant and a key with the scopes ``mcp``, ``actions`` and ``admin`` come from the CLI; an API-key connector
definition with one request action (``json``: ``GET /json``), its integration, end user ``u1`` and a
connection come from the HTTP API. Then, from this process, each way is warmed up and measured:

* REST: ``POST /api/v1/connections/{id}/actions/json`` with one keep-alive httpx2 client (the baseline);
* MCP: ``call_tool("bench_json", {})`` on one initialized session of the official MCP client over streamable
  HTTP at ``/mcp`` (``End-User-Id: u1``);

each ``--calls`` times one after the other, then ``--calls`` times spread over ``--concurrency`` callers
sharing the one client or session. Prints p50 and p99 per way, requests/s of the concurrent runs, the
server's and this client's CPU time per call, and last the ratio of the sequential MCP p50 to the REST p50.
No CPU pinning: the server, the upstream and this client share the machine's CPUs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# run as a script, this file's directory comes first on sys.path, where this file would shadow the mcp SDK
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != HERE]
sys.path.insert(0, str(REPO))

import httpx2
from bench.proxy import cli, connect_bench, cpu_seconds, environments, free_port, started, wait_ready
from bench.proxy import definition as proxy_definition
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

ACTION = "json"
TOOL = f"bench_{ACTION}"
ANSWER = {"id": 42, "name": "switchyard", "ok": True, "items": [1, 2, 3]}


def definition(upstream_url: str) -> str:
    action = f"actions:\n  - name: {ACTION}\n    description: The upstream's JSON document.\n    request: {{path: /json}}\n"
    return proxy_definition(upstream_url, extra=action)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Run:
    way: str
    callers: int
    samples: list[float]  # milliseconds per call
    seconds: float  # wall time of the whole run
    server_cpu_us: float  # per call
    client_cpu_us: float  # per call

    @property
    def requests_per_s(self) -> float:
        return len(self.samples) / self.seconds


One = Callable[[], Awaitable[None]]


async def measure(way: str, one: One, calls: int, callers: int, server_pid: int) -> Run:
    samples: list[float] = []

    async def caller(count: int) -> None:
        for _ in range(count):
            start = time.perf_counter()
            await one()
            samples.append((time.perf_counter() - start) * 1000)

    shares = [calls // callers + (1 if n < calls % callers else 0) for n in range(callers)]
    server_before, client_before = cpu_seconds(server_pid), time.process_time()
    started_at = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for share in shares:
            group.create_task(caller(share))
    seconds = time.perf_counter() - started_at
    server_cpu = (cpu_seconds(server_pid) - server_before) / calls * 1e6
    client_cpu = (time.process_time() - client_before) / calls * 1e6
    return Run(way, callers, samples, seconds, server_cpu, client_cpu)


async def bench(base: str, key: str, connection_id: str, args: argparse.Namespace, pid: int) -> list[Run]:
    headers = {"Authorization": f"Bearer {key}"}
    path = f"/api/v1/connections/{connection_id}/actions/{ACTION}"
    limits = httpx2.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    runs: list[Run] = []
    async with (
        httpx2.AsyncClient(base_url=base, headers=headers, timeout=30, limits=limits) as rest,
        httpx2.AsyncClient(headers={**headers, "End-User-Id": "u1"}, timeout=30, limits=limits) as http,
        streamable_http_client(base + "/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        names = {tool.name for tool in (await session.list_tools()).tools}
        if TOOL not in names:
            raise SystemExit(f"the MCP server does not list {TOOL}: {sorted(names)}")

        async def by_rest() -> None:
            answer = await rest.post(path, json={"input": {}})
            if answer.status_code != 200 or answer.json()["output"] != ANSWER:
                raise SystemExit(f"REST call failed: {answer.status_code} {answer.text[:300]}")

        async def by_mcp() -> None:
            result = await session.call_tool(TOOL, {})
            if result.is_error or result.structured_content != ANSWER:
                raise SystemExit(f"MCP call failed: {result}")

        ways: dict[str, One] = {"rest": by_rest, "mcp": by_mcp}
        for name, one in ways.items():
            await measure(name, one, args.warmup, 1, pid)
            await measure(name, one, args.warmup, args.concurrency, pid)
        for callers in (1, args.concurrency):
            for name, one in ways.items():
                runs.append(await measure(name, one, args.calls, callers, pid))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1000, help="timed calls per way and run (default 1000)")
    parser.add_argument("--concurrency", type=int, default=16, help="callers of the concurrent runs")
    parser.add_argument("--warmup", type=int, default=100, help="untimed calls per way first (default 100)")
    parser.add_argument(
        "--tool-cache-ttl", default="5", help="SWITCHYARD_TOOL_CACHE_TTL_SECONDS of the server (0: off)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        ports = {name: free_port() for name in ("upstream", "switchyard")}
        upstream_url = f"http://127.0.0.1:{ports['upstream']}"
        base = f"http://127.0.0.1:{ports['switchyard']}"
        base_env, env = environments(data, base, {"SWITCHYARD_TOOL_CACHE_TTL_SECONDS": args.tool_cache_ttl})
        cli(env, "tenants", "create", "bench")
        scopes = [arg for scope in ("mcp", "actions", "admin") for arg in ("-s", scope)]
        key = str(cli(env, "keys", "create", "-t", "bench", "-n", "bench", *scopes)["key"])
        upstream_cmd = [sys.executable, str(HERE / "proxy.py"), "upstream", str(ports["upstream"])]
        serve_cmd = [sys.executable, "-m", "switchyard.cli.main", "serve", "--port", str(ports["switchyard"])]
        with (
            started(upstream_cmd, base_env, data / "upstream.log") as upstream,
            started(serve_cmd, env, data / "switchyard.log") as switchyard,
        ):
            wait_ready(upstream_url + "/", upstream)
            wait_ready(base + "/healthz", switchyard)
            connection_id = connect_bench(base, key, definition(upstream_url))
            runs = asyncio.run(bench(base, key, connection_id, args, switchyard.pid))

    print(f"python {sys.version.split()[0]}; {os.cpu_count()} cpus; action GET /json on a loopback upstream")
    print(f"server: switchyard serve, tool cache ttl {args.tool_cache_ttl} s")
    print(f"{'way':<6}{'callers':>8}{'calls':>7}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}", end="")
    print(f"{'server us':>11}{'client us':>11}")
    for run in runs:
        print(
            f"{run.way:<6}{run.callers:>8}{len(run.samples):>7}{run.requests_per_s:>9,.0f}"
            f"{percentile(run.samples, 0.5):>9.3f}{percentile(run.samples, 0.99):>9.3f}"
            f"{run.server_cpu_us:>11.0f}{run.client_cpu_us:>11.0f}"
        )
    by = {(run.way, run.callers): run for run in runs}
    high = args.concurrency
    rate = by["mcp", high].requests_per_s / by["rest", high].requests_per_s
    print(f"req/s at {high} callers, mcp/rest: {rate:.3f}")
    ratio = percentile(by["mcp", 1].samples, 0.5) / percentile(by["rest", 1].samples, 0.5)
    print(f"ratio: mcp p50 / rest p50 (sequential) = {ratio:.2f}")


if __name__ == "__main__":
    main()
