"""The proxy's throughput and latency: wrk against a loopback upstream, a minimal proxy, and Switchyard.

    python bench/proxy.py [--duration 10] [--warmup 3] [--connections 1,32] [--rounds 1] [--no-pin]

Starts three servers, each in its own process with one event loop:

* the upstream: a tiny JSON endpoint (aiohttp on uvloop) that answers 401 unless ``X-Api-Key`` is right;
* the minimal proxy: about 30 lines of Starlette under uvicorn with one shared aiohttp ``ClientSession``,
  forwarding method, path, query, headers (not hop-by-hop) and body with a fixed ``X-Api-Key`` injected,
  and nothing else: the ceiling for a Python proxy on this machine;
* Switchyard: ``create_app`` under the same uvicorn settings (uvloop, httptools, one worker), SQLite in a
  temp data dir, logging INFO JSON lines to a file, every default left as it is except the tenant rate
  limit (raised from 1,000/s so that no call is refused) and the egress guard (loopback allowed).

A tenant and a proxy-scoped key come from the CLI, the connector definition, integration, end user and
connection from the HTTP API. Then ``wrk -t1 --latency`` drives the upstream directly, the minimal proxy and
Switchyard's ``/api/v1/proxy/json`` at each connection count (a warm-up run first; ``--rounds`` repeats the
three back to back and keeps the medians), and this prints requests/s, p50, p99 and the server's CPU time
per request for each, Switchyard's added p50 over direct at 1 connection, and last the ratio of
Switchyard's requests/s to the minimal proxy's at 32 connections.

Placement, with two or more CPUs (``--no-pin`` leaves it to the scheduler): at 1 connection every process
and wrk share CPU 1 (one request is in flight, and a hop to another CPU would add the virtual machine's
wake-up latency, not the proxy's work); at more connections the proxies have CPU 0 to themselves and the
upstream and wrk share CPU 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

UPSTREAM_KEY = "bench-upstream-key-0123456789abcdef"
ANSWER = b'{"id":42,"name":"switchyard","ok":true,"items":[1,2,3]}'
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "host", "content-length"}
)  # fmt: skip


def definition(upstream_url: str, *, extra: str = "") -> str:
    return f"""
name: bench
version: 1.0.0
displayName: Bench upstream
authenticationMethods:
  - type: api_key
    credentials:
      api_key: {{title: API key, secret: true}}
    inject: {{in: header, name: X-Api-Key, format: "{{{{api_key}}}}"}}
proxy: {{baseUrl: "{upstream_url}"}}
{extra}"""


# --- the upstream: python bench/proxy.py upstream PORT --------------------------------------------------


def run_upstream(port: int) -> None:
    import uvloop
    from aiohttp import web

    async def answer(request: web.Request) -> web.Response:
        if request.headers.get("X-Api-Key") != UPSTREAM_KEY:
            return web.Response(status=401, body=b'{"error":"bad key"}', content_type="application/json")
        return web.Response(body=ANSWER, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# --- the minimal proxy: uvicorn --app-dir bench --factory proxy:minimal_proxy -----------------------------


def minimal_proxy() -> object:
    import aiohttp
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    upstream = os.environ["BENCH_UPSTREAM_URL"]
    shared: dict[str, aiohttp.ClientSession] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with aiohttp.ClientSession(auto_decompress=False) as session:
            shared["session"] = session
            yield

    async def forward(request: Request) -> Response:
        url = upstream + request.url.path + ("?" + request.url.query if request.url.query else "")
        headers = [(n, v) for n, v in request.headers.items() if n not in HOP_BY_HOP]
        headers.append(("X-Api-Key", UPSTREAM_KEY))
        body = await request.body()
        async with shared["session"].request(
            request.method, url, headers=headers, data=body or None, allow_redirects=False
        ) as answer:
            content = await answer.read()
            kept = {n: v for n, v in answer.headers.items() if n.lower() not in HOP_BY_HOP}
            return Response(content, answer.status, headers=kept)

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)], lifespan=lifespan)


# --- the benchmark --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int  # non-2xx/3xx answers and socket errors
    cpu_us: float = 0.0  # CPU time of the server under test per request (user + system), microseconds


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server for {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # any answer, even 401, means it listens
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up in {seconds:.0f} s")


def api(base: str, method: str, path: str, key: str, body: object, content_type: str) -> dict[str, object]:
    data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {key}", "Content-Type": content_type},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        parsed: dict[str, object] = json.loads(answer.read() or b"{}")
        return parsed


def cli(env: dict[str, str], *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "switchyard.cli.main", *args, "--json"],
        env=env, capture_output=True, check=True, text=True,
    )  # fmt: skip
    parsed: dict[str, object] = json.loads(done.stdout)
    return parsed


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> Result:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    total = re.search(r"(\d+) requests in", output)
    if not (rate and p50 and p99 and total):
        raise SystemExit(f"cannot read wrk's output:\n{output}")
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    bad += sum(int(n) for n in errors.groups()) if errors else 0
    return Result(float(rate.group(1)), _ms(p50.group(1)), _ms(p99.group(1)), int(total.group(1)), bad)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median(results: list[Result]) -> Result:
    """Each figure's median over the rounds (the requests and failures added up)."""
    middle = statistics.median
    return Result(
        middle([r.requests_per_s for r in results]),
        middle([r.p50_ms for r in results]),
        middle([r.p99_ms for r in results]),
        sum(r.requests for r in results),
        sum(r.bad for r in results),
        middle([r.cpu_us for r in results]),
    )


def place(pids: dict[str, int], connections: int) -> str | None:
    """Pin the servers (every thread) for a run at ``connections``; the CPU for wrk."""
    for name, pid in pids.items():
        cpu = "1" if connections == 1 or name == "direct" else "0"
        subprocess.run(["taskset", "-a", "-p", "-c", cpu, str(pid)], capture_output=True, check=True)
    return "1"


def wrk(url: str, headers: dict[str, str], connections: int, seconds: float, cpu: str | None) -> Result:
    command = [*(["taskset", "-c", cpu] if cpu else []), "wrk", "-t1", f"-c{connections}"]
    command += [f"-d{seconds:g}s", "--latency", "--timeout", "5s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run([*command, url], capture_output=True, check=True, text=True)
    return parse_wrk(done.stdout)


@contextlib.contextmanager
def started(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=sink, cwd=REPO)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def uvicorn(target: str, port: int, *more: str) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", target, "--factory", "--host", "127.0.0.1", "--port", str(port),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "info", *more,
    ]  # fmt: skip


@dataclass(frozen=True)
class Servers:
    targets: dict[str, tuple[str, dict[str, str]]]  # name: (url, headers)
    pids: dict[str, int]  # name: the server that answers it
    switchyard: subprocess.Popen[bytes]
    switchyard_log: Path


def environments(
    data: Path, base: str, settings: dict[str, str] | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """The environment without any SWITCHYARD_* variable (for the peers), and Switchyard's own."""
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_")}
    base_env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), base_env.get("PYTHONPATH", "")])
    env = base_env | {
        "SWITCHYARD_DATA_DIR": str(data / "switchyard"),
        "SWITCHYARD_LOG_LEVEL": "INFO",
        "SWITCHYARD_LOG_FORMAT": "json",
        "SWITCHYARD_EGRESS_ALLOW_HTTP_HOSTS": "127.0.0.1",
        "SWITCHYARD_EGRESS_ALLOW_NETWORKS": "127.0.0.0/8",
        "SWITCHYARD_TENANT_RATE_LIMIT": "1000000/second",
        "SWITCHYARD_PUBLIC_BASE_URL": base,
        **(settings or {}),
    }
    return base_env, env


def connect_bench(base: str, admin_key: str, source: str) -> str:
    """Put the ``bench`` connector (``source``), its integration and one end user's connection; its id."""
    as_json = "application/json"
    api(base, "PUT", "/api/v1/connectors/bench", admin_key, source, "application/yaml")
    integration = {"key": "bench", "connector_id": "bench", "auth_provider": "direct", "auth_type": "api_key"}
    api(base, "POST", "/api/v1/integrations", admin_key, integration, as_json)
    api(base, "POST", "/api/v1/end-users", admin_key, {"external_id": "u1"}, as_json)
    connection = {"integration": "bench", "end_user_id": "u1", "credentials": {"api_key": UPSTREAM_KEY}}
    return str(api(base, "POST", "/api/v1/connections", admin_key, connection, as_json)["id"])


@contextlib.contextmanager
def servers(data: Path, settings: dict[str, str] | None = None) -> Iterator[Servers]:
    """The upstream, the minimal proxy and Switchyard (``settings``: more SWITCHYARD_* variables), running,
    with a connection to call through."""
    ports = {name: free_port() for name in ("upstream", "minimal", "switchyard")}
    upstream_url = f"http://127.0.0.1:{ports['upstream']}"
    base = f"http://127.0.0.1:{ports['switchyard']}"
    base_env, env = environments(data, base, settings)
    admin = str(cli(env, "tenants", "create", "bench")["api_key"]["key"])  # type: ignore[index]
    key = str(cli(env, "keys", "create", "-t", "bench", "-n", "bench", "-s", "proxy")["key"])

    upstream_cmd = [sys.executable, str(Path(__file__).resolve()), "upstream", str(ports["upstream"])]
    minimal_cmd = uvicorn("proxy:minimal_proxy", ports["minimal"], "--app-dir", str(REPO / "bench"))
    minimal_env = base_env | {"BENCH_UPSTREAM_URL": upstream_url}
    switchyard_cmd = uvicorn("switchyard.api.app:create_app", ports["switchyard"])
    switchyard_log = data / "switchyard.log"
    with (
        started(upstream_cmd, base_env, data / "upstream.log") as upstream,
        started(minimal_cmd, minimal_env, data / "minimal.log") as minimal,
        started(switchyard_cmd, env, switchyard_log) as switchyard,
    ):
        wait_ready(upstream_url + "/", upstream)
        wait_ready(f"http://127.0.0.1:{ports['minimal']}/", minimal)
        wait_ready(base + "/healthz", switchyard)
        connection_id = connect_bench(base, admin, definition(upstream_url))
        yield Servers(
            targets={
                "direct": (upstream_url + "/json", {"X-Api-Key": UPSTREAM_KEY}),
                "minimal proxy": (f"http://127.0.0.1:{ports['minimal']}/json", {}),
                "switchyard": (
                    base + "/api/v1/proxy/json",
                    {"Authorization": f"Bearer {key}", "Connection-Id": connection_id},
                ),
            },
            pids={"direct": upstream.pid, "minimal proxy": minimal.pid, "switchyard": switchyard.pid},
            switchyard=switchyard,
            switchyard_log=switchyard_log,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("role", nargs="?", default="bench", choices=["bench", "upstream"])
    parser.add_argument("port", nargs="?", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run (default 10)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up per target (default 3)")
    parser.add_argument("--connections", default="1,32", help="connection counts (default 1,32)")
    parser.add_argument("--rounds", type=int, default=1, help="measure this many times, keep the medians")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the processes to CPUs")
    parser.add_argument("--keep-log", type=Path, help="copy Switchyard's log lines to this file")
    args = parser.parse_args()
    if args.role == "upstream":
        run_upstream(args.port)
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian package wrk)")
    counts = [int(c) for c in args.connections.split(",")]
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None

    with tempfile.TemporaryDirectory() as tmp, servers(Path(tmp)) as running:
        lines_before = running.switchyard_log.read_bytes().count(b"\n")
        runs: dict[tuple[str, int], list[Result]] = {}
        served = 0  # by Switchyard, warm-up included: its log lines are counted against these
        for count in counts:
            client_cpu = place(running.pids, count) if pin else None
            for name, (url, headers) in running.targets.items() if args.warmup > 0 else ():
                warm = wrk(url, headers, count, args.warmup, client_cpu)
                served += warm.requests if name == "switchyard" else 0
            for _ in range(args.rounds):
                for name, (url, headers) in running.targets.items():
                    before = cpu_seconds(running.pids[name])
                    result = wrk(url, headers, count, args.duration, client_cpu)
                    spent = cpu_seconds(running.pids[name]) - before
                    cpu_us = spent / max(result.requests, 1) * 1e6
                    runs.setdefault((name, count), []).append(replace(result, cpu_us=cpu_us))
                    served += result.requests if name == "switchyard" else 0
        switchyard_lines = running.switchyard_log.read_bytes().count(b"\n") - lines_before
        if args.keep_log:
            shutil.copyfile(running.switchyard_log, args.keep_log)
    results = {key: median(found) for key, found in runs.items()}

    rounds = f", median of {args.rounds} rounds" if args.rounds > 1 else ""
    placed = "1 connection: all on cpu 1; more: proxies on cpu 0, upstream and wrk on cpu 1"
    print(
        f"python {sys.version.split()[0]}; {os.cpu_count()} cpus; wrk -t1 -d{args.duration:g}s --latency{rounds}"
    )
    print(f"pinned: {placed if pin else 'no'}")
    print(f"{'target':<15}{'conns':>6}{'req/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'cpu us/req':>12}{'bad':>6}")
    for (name, count), result in results.items():
        print(
            f"{name:<15}{count:>6}{result.requests_per_s:>11,.0f}{result.p50_ms:>9.3f}"
            f"{result.p99_ms:>9.3f}{result.cpu_us:>12.0f}{result.bad:>6}"
        )
    print(f"switchyard log: {switchyard_lines:,} lines for {served:,} proxied requests (warm-up included)")
    if any(r.bad for found in runs.values() for r in found):
        print("WARNING: some answers were not 2xx/3xx or sockets failed; the figures are not comparable")
    low, high = min(counts), max(counts)
    added = results["switchyard", low].p50_ms - results["direct", low].p50_ms
    print(f"switchyard added p50 over direct at {low} connection(s): {added:.3f} ms (target <= 0.5 ms)")
    cpu = results["minimal proxy", high].cpu_us / max(results["switchyard", high].cpu_us, 1e-9)
    print(f"server CPU per request at {high} connections, minimal proxy/switchyard: {cpu:.3f}")
    ratio = results["switchyard", high].requests_per_s / results["minimal proxy", high].requests_per_s
    print(f"ratio: switchyard/minimal_proxy requests_per_s at {high} connections={ratio:.3f} (target >= 0.7)")


if __name__ == "__main__":
    main()
