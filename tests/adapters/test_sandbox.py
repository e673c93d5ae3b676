"""The sandboxed code runner: real bubblewrap, real guest processes, and an escape suite.

Each escape is a hook that tries to get out (network, host files, processes, memory, CPU, disk, output,
environment); each must end in its ``sandbox.*`` code, and the runner must serve a normal call right after.
Where bubblewrap is absent or cannot create namespaces those tests skip, unless
``SWITCHYARD_TEST_REQUIRE_SERVICES=1``. The unavailable and no-isolation paths run everywhere.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import io
import json
import os
import shutil
import signal
import time
import uuid
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from switchyard.adapters.sandbox.command import SandboxLimits
from switchyard.adapters.sandbox.exits import exit_error
from switchyard.adapters.sandbox.runner import CodeBundle, SandboxRunner
from switchyard.core.errors import ProviderRejected, SandboxBusy, SandboxError, SandboxUnavailable
from tests.conftest import _skip_or_fail

LIMITS = SandboxLimits(
    wall_seconds=3.0, cpu_seconds=1, memory_mb=256, file_mb=8, tmpfs_mb=16, open_files=64, output_bytes=65536
)

CODE = """
import asyncio, os, threading

from json import dumps  # imported, not defined here: not a hook

calls = 0


async def echo(ctx, input):
    global calls
    calls += 1
    ctx.log.info("echo.called", calls=calls)
    return {"input": input, "calls": calls, "config": ctx.config, "connection": ctx.connection_id}


def shout(ctx, input):
    return input["text"].upper()


async def fetch(ctx, input):
    answer = await ctx.http.request("POST", "/items", query={"a": "1"}, json_body={"x": 1},
                                    headers={"X-Trace": "t"})
    return {"status": answer.status, "json": answer.json(), "text": answer.text,
            "header": answer.header("content-type")}


async def host_error_escapes(ctx, input):
    await ctx.http.request("GET", "/denied")


async def host_error_caught(ctx, input):
    try:
        await ctx.http.request("GET", "/denied")
    except Exception as exc:
        return {"type": type(exc).__name__, "code": exc.code}


async def concurrency(ctx, input):
    box = []
    thread = threading.Thread(target=lambda: box.append(threading.get_ident()))
    thread.start()
    thread.join()
    in_thread = await asyncio.to_thread(lambda: 6 * 7)
    await asyncio.sleep(0.01)
    return {"thread": bool(box), "to_thread": in_thread}


async def boom(ctx, input):
    raise ValueError("boom " + "x" * 5000)


def not_json(ctx, input):
    return {1, 2}


def chatty(ctx, input):
    ctx.log.warning("chatty.first", token_count=3, blob="z" * 5000)
    for n in range(150):
        ctx.log.info("chatty.line", n=n)
    return "done"


def _private(ctx, input):
    return "hidden"
"""

ESCAPES = """
import os, signal, socket, subprocess, sys, time


def tcp(ctx, input):
    return socket.create_connection(("127.0.0.1", 5432), timeout=1)


def shadow(ctx, input):
    return open("/etc/shadow").read()


def data_dir(ctx, input):
    return open(input["path"]).read()


def fork_bomb(ctx, input):
    for _ in range(1000):
        if os.fork() == 0:
            os._exit(0)


def spawn_bomb(ctx, input):
    for _ in range(1000):
        subprocess.Popen(["/bin/true"])


def allocate(ctx, input):
    return len(bytearray(4 * 1024 ** 3))


def spin(ctx, input):
    while True:
        pass


def spin_deaf(ctx, input):
    signal.signal(signal.SIGXCPU, signal.SIG_IGN)  # only the hard limit's SIGKILL stops it
    while True:
        pass


def sleep(ctx, input):
    time.sleep(60)


def big_file(ctx, input):
    chunk = b"x" * (1024 * 1024)
    with open("big.bin", "wb") as sink:
        for _ in range(1024):
            sink.write(chunk)


def many_files(ctx, input):
    chunk = b"x" * (1024 * 1024)
    for n in range(1024):
        with open(f"part{n}.bin", "wb") as sink:
            sink.write(chunk * 4)


def loud(ctx, input):
    line = "x" * 1_000_000
    for _ in range(100):
        print(line)


def huge_reply(ctx, input):
    return "y" * 1_000_000


def environment(ctx, input):
    return dict(os.environ)


def whoami(ctx, input):
    return {"uid": os.getuid(), "gid": os.getgid(), "cwd": os.getcwd(), "root": sorted(os.listdir("/"))}


def exits(ctx, input):
    os._exit(3)
"""


def archive(code: str | None, *, extra: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("manifest.json", json.dumps({"name": "demo", "version": "1.0.0"}))
        if code is not None:
            bundle.writestr("connector.py", code)
        for name, text in (extra or {}).items():
            bundle.writestr(name, text)
    return buffer.getvalue()


SLOW = """
import asyncio


async def nap(ctx, input):
    await asyncio.sleep(input["seconds"])
    return "rested"


async def hold(ctx, input):
    answer = await ctx.http.request("GET", "/hold")
    return answer.status
"""


def bundle(
    code: str | None = CODE, *, tenant: str = "ten_a", key: str | None = None, **more: Any
) -> CodeBundle:
    key = key or f"{tenant}:pkg_{uuid.uuid4().hex[:8]}:1.0.0:sha"
    return CodeBundle(key, tenant, archive(code, **more))


def processes() -> dict[int, tuple[int, str]]:
    """Every process on the host, zombies too: pid -> (parent pid, argv[0])."""
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
                argv0 = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")[0].decode()
            except (OSError, UnicodeDecodeError):
                continue  # gone meanwhile
            found[int(name)] = (int(stat.rsplit(")", 1)[1].split()[1]), argv0)
    return found


def children(pid: int) -> list[int]:
    return [child for child, (parent, _) in processes().items() if parent == pid]


def own_bwrap(tmp_path: Path) -> str:
    """bwrap under a path of its own, so that a runner's processes are told apart from other runners'."""
    link = tmp_path / "bwrap"
    link.symlink_to(shutil.which("bwrap") or "/nonexistent/bwrap")
    return str(link)


def sandbox_processes(bwrap: str) -> tuple[int, int]:
    """Sandboxes started with ``bwrap`` that exist: its processes (children of this one) and their guests."""
    table = processes()
    tops = {pid for pid, (parent, argv0) in table.items() if parent == os.getpid() and argv0 == bwrap}
    return len(tops), len([pid for pid, (parent, _) in table.items() if parent in tops])


async def no_host(method: str, params: dict[str, Any]) -> Any:
    raise AssertionError(f"unexpected host call {method}")


async def call(runner: SandboxRunner, code_bundle: CodeBundle, hook: str, payload: dict[str, Any] | None = None,
               **kwargs: Any) -> Any:  # fmt: skip
    options: dict[str, Any] = {"config": {"region": "eu"}, "connection_id": "conn_1", "host": no_host}
    return await runner.run(code_bundle, hook, payload or {}, **(options | kwargs))


@pytest.fixture(scope="module")
async def runner() -> AsyncIterator[SandboxRunner]:
    made = SandboxRunner(LIMITS, warm_pool=1, idle_seconds=60, max_calls=50)
    try:
        await made.fill()
    except SandboxUnavailable as exc:
        await made.close()
        _skip_or_fail(f"bubblewrap sandbox unavailable: {exc.detail}")
    yield made
    await made.close()


@pytest.fixture(scope="module")
def escapes() -> CodeBundle:
    return bundle(ESCAPES, tenant="ten_escape", key="ten_escape:escapes:1.0.0:sha")


# --- behaviour ----------------------------------------------------------------------------------------


async def test_async_hook_transforms_its_input(runner: SandboxRunner) -> None:
    result = await call(runner, bundle(), "echo", {"n": 1})
    assert result == {"input": {"n": 1}, "calls": 1, "config": {"region": "eu"}, "connection": "conn_1"}


async def test_sync_hook(runner: SandboxRunner) -> None:
    assert await call(runner, bundle(), "shout", {"text": "hi"}) == "HI"


async def test_http_request_goes_to_the_host(runner: SandboxRunner) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    async def host(method: str, params: dict[str, Any]) -> Any:
        seen.append((method, params))
        body = base64.b64encode(b'{"ok": true}').decode()
        return {"status": 201, "headers": [["Content-Type", "application/json"]], "body_base64": body}

    result = await call(runner, bundle(), "fetch", host=host)
    assert result == {
        "status": 201,
        "json": {"ok": True},
        "text": '{"ok": true}',
        "header": "application/json",
    }
    assert seen == [
        (
            "http.request",
            {"method": "POST", "path": "/items", "query": {"a": "1"}, "json_body": {"x": 1},
             "headers": {"X-Trace": "t"}},
        )
    ]  # fmt: skip


async def test_a_host_error_keeps_its_code(runner: SandboxRunner) -> None:
    refused = ProviderRejected("the provider said no", code="provider.rejected", upstream_status=403)

    async def host(method: str, params: dict[str, Any]) -> Any:
        raise refused

    with pytest.raises(ProviderRejected) as caught:
        await call(runner, bundle(), "host_error_escapes", host=host)
    assert caught.value is refused  # the very object: its code and status survive the sandbox
    inside = await call(runner, bundle(), "host_error_caught", host=host)
    assert inside == {"type": "HostError", "code": "provider.rejected"}


async def test_inspect_lists_public_functions(runner: SandboxRunner) -> None:
    found = await runner.inspect(bundle())
    hooks = ["echo", "shout", "fetch", "host_error_escapes", "host_error_caught", "concurrency", "boom"]
    assert found == sorted([*hooks, "not_json", "chatty"])  # not: dumps (imported), _private


async def test_inspect_of_a_package_directory(runner: SandboxRunner) -> None:
    extra = {
        "connector/__init__.py": "from .hooks import pull\n",
        "connector/hooks.py": "async def pull(ctx, i):\n    return 1\n",
    }
    assert await runner.inspect(bundle(None, extra=extra)) == ["pull"]


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("raise ValueError('no config here')\n", ["ValueError", "no config here", "connector.py, line 1"]),
        ("def broken(:\n", ["SyntaxError"]),
        ("import requests\n", ["ModuleNotFoundError", "requests"]),
        (None, ["ModuleNotFoundError", "connector"]),
    ],
)
async def test_inspect_reports_import_errors(
    runner: SandboxRunner, code: str | None, words: list[str]
) -> None:
    with pytest.raises(SandboxError) as caught:
        await runner.inspect(bundle(code))
    assert caught.value.code == "sandbox.import_failed"
    for word in words:
        assert word in caught.value.detail


async def test_hook_failures(runner: SandboxRunner) -> None:
    code_bundle = bundle()
    with pytest.raises(SandboxError) as caught:
        await call(runner, code_bundle, "boom")
    assert caught.value.code == "sandbox.hook_failed"
    assert caught.value.detail.startswith("ValueError: boom xxx")
    assert len(caught.value.detail) < 1100
    for hook in ("nothing_here", "_private", "dumps"):
        with pytest.raises(SandboxError) as caught:
            await call(runner, code_bundle, hook)
        assert caught.value.code == "sandbox.hook_missing", hook
    with pytest.raises(SandboxError) as caught:
        await call(runner, code_bundle, "not_json")
    assert caught.value.code == "sandbox.bad_result"


async def test_hook_logs_reach_the_host_capped(runner: SandboxRunner) -> None:
    code_bundle = bundle()
    with capture_logs() as logs:
        assert await call(runner, code_bundle, "chatty") == "done"
    first = logs[0]
    assert first["event"] == "chatty.first"
    assert first["log_level"] == "warning"
    assert first["bundle"] == code_bundle.key
    assert len(first["fields"]["truncated"]) == 2048  # fields past 2 KiB are cut
    assert len([line for line in logs if line["event"] == "chatty.line"]) == 99
    assert logs[-1]["event"] == "sandbox.log_capped"


async def test_threads_and_asyncio_work_inside(runner: SandboxRunner) -> None:
    assert await call(runner, bundle(), "concurrency") == {"thread": True, "to_thread": 42}


async def test_same_key_reuses_and_another_tenant_does_not(runner: SandboxRunner) -> None:
    first = bundle(tenant="ten_one")
    assert (await call(runner, first, "echo"))["calls"] == 1
    assert (await call(runner, first, "echo"))["calls"] == 2  # the same process: module state kept
    other = CodeBundle("ten_two:" + first.key.split(":", 1)[1], "ten_two", first.archive)
    assert (await call(runner, other, "echo"))["calls"] == 1
    same_key_other_tenant = CodeBundle(first.key, "ten_two", first.archive)
    assert (await call(runner, same_key_other_tenant, "echo"))["calls"] == 1  # never across tenants
    # the key's idle sandbox now belongs to ten_two: the first tenant gets a fresh one, not that one
    assert (await call(runner, first, "echo"))["calls"] == 1


async def test_retire(runner: SandboxRunner) -> None:
    first = bundle(tenant="ten_retire", key="ten_retire:pkg:1.0.0:aaa")
    assert (await call(runner, first, "echo"))["calls"] == 1
    assert (await call(runner, first, "echo"))["calls"] == 2
    await runner.retire("ten_retire:pkg:")
    assert (await call(runner, first, "echo"))["calls"] == 1


async def test_max_calls_and_idle_expiry() -> None:
    made = SandboxRunner(LIMITS, warm_pool=0, idle_seconds=0.3, max_calls=2)
    try:
        code_bundle = bundle()
        counts = [(await call(made, code_bundle, "echo"))["calls"] for _ in range(3)]
        assert counts == [1, 2, 1]
        await asyncio.sleep(0.5)
        assert (await call(made, code_bundle, "echo"))["calls"] == 1
    except SandboxUnavailable as exc:
        _skip_or_fail(f"bubblewrap sandbox unavailable: {exc.detail}")
    finally:
        await made.close()


async def test_many_calls_at_once(runner: SandboxRunner) -> None:
    bundles = [bundle() for _ in range(4)]
    results = await asyncio.gather(*(call(runner, b, "echo", {"n": n}) for n, b in enumerate(bundles)))
    assert [r["input"]["n"] for r in results] == [0, 1, 2, 3]


async def test_close_leaves_no_process_and_no_fd() -> None:
    before = len(os.listdir("/proc/self/fd"))
    made = SandboxRunner(LIMITS, warm_pool=2)
    try:
        await made.fill()
    except SandboxUnavailable as exc:
        await made.close()
        _skip_or_fail(f"bubblewrap sandbox unavailable: {exc.detail}")
    code_bundle = bundle()
    await call(made, code_bundle, "echo")
    slow = asyncio.ensure_future(call(made, bundle(ESCAPES), "sleep"))
    await asyncio.sleep(0.5)
    pids = [s.pid for s in made._warm] + [s.pid for pool in made._idle.values() for s in pool]
    pids += [s.pid for s in made._busy]
    assert len(pids) >= 3
    await made.close()
    with pytest.raises(SandboxUnavailable):  # a call in flight when the runner closes
        await slow
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists(), f"process {pid} is still there (or a zombie)"
    assert len(os.listdir("/proc/self/fd")) == before


# --- at most max_live sandboxes --------------------------------------------------------------------------


async def test_live_sandboxes_are_capped(tmp_path: Path) -> None:
    bwrap = own_bwrap(tmp_path)
    made = SandboxRunner(LIMITS, warm_pool=1, max_live=2, bwrap=bwrap)
    try:
        await made.fill()
    except SandboxUnavailable as exc:
        await made.close()
        _skip_or_fail(f"bubblewrap sandbox unavailable: {exc.detail}")
    seen: list[tuple[int, int, int]] = []  # (the runner's count, bwrap processes, guest processes)
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            seen.append((made.live, *sandbox_processes(bwrap)))
            await asyncio.sleep(0.005)

    watcher = asyncio.ensure_future(watch())
    try:
        start = time.monotonic()
        naps = [call(made, bundle(SLOW, tenant=f"ten_{n}"), "nap", {"seconds": 0.6}) for n in range(3)]
        assert await asyncio.gather(*naps) == ["rested"] * 3
        elapsed = time.monotonic() - start
    finally:
        done.set()
        await watcher
        await made.close()
    assert elapsed >= 1.2  # two rounds: the third call waited for a place
    assert len(seen) > 50
    assert max(live for live, _, _ in seen) == 2
    assert max(tops for _, tops, _ in seen) == 2
    assert max(guests for _, _, guests in seen) == 2
    assert (made.live, sandbox_processes(bwrap)) == (0, (0, 0))


async def test_at_the_cap_the_least_recently_used_idle_sandbox_goes() -> None:
    made = SandboxRunner(LIMITS, warm_pool=0, max_live=2)
    try:
        one, two, three = (bundle(tenant=f"ten_{name}") for name in ("one", "two", "three"))
        assert (await call(made, one, "echo"))["calls"] == 1
        assert (await call(made, two, "echo"))["calls"] == 1
        assert (await call(made, one, "echo"))["calls"] == 2  # now two's sandbox is the least recently used
        pids = {s.key: s.pid for pool in made._idle.values() for s in pool}
        assert (await call(made, three, "echo"))["calls"] == 1  # another tenant's: evicted all the same
        assert sorted(made._idle) == sorted([one.key, three.key])
        assert not Path(f"/proc/{pids[two.key]}").exists()
        assert (await call(made, one, "echo"))["calls"] == 3
        assert made.live == 2
    except SandboxUnavailable as exc:
        _skip_or_fail(f"bubblewrap sandbox unavailable: {exc.detail}")
    finally:
        await made.close()


async def test_a_call_waits_for_a_place_no_longer_than_wall_seconds() -> None:
    made = SandboxRunner(dataclasses.replace(LIMITS, wall_seconds=1.5), warm_pool=0, max_live=1)
    try:
        await made.fill()
    except SandboxUnavailable as exc:
        await made.close()
        _skip_or_fail(f"bubblewrap sandbox unavailable: {exc.detail}")

    def holding() -> tuple[asyncio.Event, asyncio.Event, Any]:
        entered, release = asyncio.Event(), asyncio.Event()

        async def host(method: str, params: dict[str, Any]) -> Any:
            entered.set()
            await release.wait()
            return {"status": 204, "headers": [], "body_base64": ""}

        return entered, release, host

    (entered, release_first, first_host), (_, release_second, second_host) = holding(), holding()
    try:
        first = asyncio.ensure_future(call(made, bundle(SLOW), "hold", host=first_host))
        await asyncio.wait_for(entered.wait(), 10)
        second = asyncio.ensure_future(call(made, bundle(SLOW), "hold", host=second_host))
        third = asyncio.ensure_future(call(made, bundle(), "echo"))
        while made._places.waiting() < 2:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)  # the second call's own wall clock, once it has a sandbox, ends after this
        release_first.set()
        assert await first == 204
        with pytest.raises(SandboxBusy) as caught:  # the second call took the place, first come
            await third
        assert caught.value.code == "sandbox.busy"
        assert "SWITCHYARD_SANDBOX_MAX_LIVE" in (caught.value.remediation or "")
        release_second.set()
        assert await second == 204
        assert made.live == 1
    finally:
        await made.close()


# --- the escape suite ---------------------------------------------------------------------------------


async def contained(runner: SandboxRunner, code_bundle: CodeBundle, hook: str, code: str,
                    payload: dict[str, Any] | None = None) -> SandboxError:  # fmt: skip
    with pytest.raises(SandboxError) as caught:
        await call(runner, code_bundle, hook, payload)
    assert caught.value.code == code, caught.value.detail
    assert (await call(runner, bundle(), "echo", {"after": hook}))["input"] == {"after": hook}
    return caught.value


async def test_no_network(runner: SandboxRunner, escapes: CodeBundle) -> None:
    error = await contained(runner, escapes, "tcp", "sandbox.hook_failed")
    assert "PermissionError" in error.detail


async def test_no_host_files(runner: SandboxRunner, escapes: CodeBundle) -> None:
    error = await contained(runner, escapes, "shadow", "sandbox.hook_failed")
    assert "FileNotFoundError" in error.detail


async def test_no_data_dir(runner: SandboxRunner, escapes: CodeBundle, tmp_path: Path) -> None:
    secret = tmp_path / "data" / "master.key"
    secret.parent.mkdir()
    secret.write_text("the master key")
    error = await contained(runner, escapes, "data_dir", "sandbox.hook_failed", {"path": str(secret)})
    assert "FileNotFoundError" in error.detail
    assert "the master key" not in error.detail


async def test_no_fork_bomb(runner: SandboxRunner, escapes: CodeBundle) -> None:
    error = await contained(runner, escapes, "fork_bomb", "sandbox.hook_failed")
    assert "PermissionError" in error.detail
    error = await contained(runner, escapes, "spawn_bomb", "sandbox.hook_failed")
    assert "PermissionError" in error.detail


async def test_memory_limit(runner: SandboxRunner, escapes: CodeBundle) -> None:
    await contained(runner, escapes, "allocate", "sandbox.memory_exceeded")


async def test_cpu_limit(runner: SandboxRunner, escapes: CodeBundle) -> None:
    await contained(runner, escapes, "spin", "sandbox.cpu_exceeded")


async def test_cpu_limit_when_the_code_ignores_sigxcpu() -> None:
    made = SandboxRunner(dataclasses.replace(LIMITS, wall_seconds=20.0), warm_pool=0)
    try:
        with pytest.raises(SandboxError) as caught:  # SIGKILL at the hard limit, after the soft one
            await call(made, bundle(ESCAPES), "spin_deaf")
        assert caught.value.code == "sandbox.cpu_exceeded"
    except SandboxUnavailable as exc:
        _skip_or_fail(f"bubblewrap sandbox unavailable: {exc.detail}")
    finally:
        await made.close()


async def test_a_guest_killed_from_outside(runner: SandboxRunner, escapes: CodeBundle) -> None:
    fresh = CodeBundle(escapes.key + "-killed", escapes.tenant_id, escapes.archive)
    sleeping = asyncio.ensure_future(call(runner, fresh, "sleep"))
    for _ in range(500):
        busy = [s for s in runner._busy if s.key == fresh.key]
        if busy:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)  # the hook is asleep
    (guest,) = children(busy[0].pid)  # bwrap's one child: the guest, pid 1 of the sandbox
    os.kill(guest, signal.SIGKILL)  # as the kernel's OOM killer would
    with pytest.raises(SandboxError) as caught:
        await sleeping
    assert caught.value.code == "sandbox.killed", caught.value.detail
    assert "killed from outside" in caught.value.detail
    assert (await call(runner, bundle(), "echo", {"after": "kill"}))["input"] == {"after": "kill"}


@pytest.mark.parametrize(
    ("status", "cpu", "code"),
    [
        (-signal.SIGXCPU, 0.2, "sandbox.cpu_exceeded"),  # no isolation: the guest itself
        (128 + signal.SIGXCPU, 0.2, "sandbox.cpu_exceeded"),  # as bwrap and the guest's handler report it
        (128 + signal.SIGKILL, 2.01, "sandbox.cpu_exceeded"),  # the hard limit
        (-signal.SIGKILL, 1.0, "sandbox.cpu_exceeded"),  # at the soft limit
        (128 + signal.SIGKILL, 0.3, "sandbox.killed"),
        (-signal.SIGKILL, None, "sandbox.killed"),  # CPU time unknown: no evidence of the limit
        (3, 0.1, "sandbox.crashed"),
    ],
)
def test_how_a_process_died_is_told_by_evidence(status: int, cpu: float | None, code: str) -> None:
    assert exit_error(status, cpu, LIMITS).code == code


async def test_wall_clock_limit(runner: SandboxRunner, escapes: CodeBundle) -> None:
    await contained(runner, escapes, "sleep", "sandbox.timeout")


async def test_file_size_and_tmpfs_limits(runner: SandboxRunner, escapes: CodeBundle) -> None:
    await contained(runner, escapes, "big_file", "sandbox.file_too_large")
    await contained(runner, escapes, "many_files", "sandbox.file_too_large")


async def test_output_limit(runner: SandboxRunner, escapes: CodeBundle) -> None:
    await contained(runner, escapes, "loud", "sandbox.output_exceeded")
    await contained(runner, escapes, "huge_reply", "sandbox.output_exceeded")


async def test_unexpected_exit(runner: SandboxRunner, escapes: CodeBundle) -> None:
    error = await contained(runner, escapes, "exits", "sandbox.crashed")
    assert "status 3" in error.detail


async def test_clean_environment(
    runner: SandboxRunner, escapes: CodeBundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHYARD_MASTER_KEY", "never-inside")
    fresh = CodeBundle(escapes.key + "-env", escapes.tenant_id, escapes.archive)
    env = await call(runner, fresh, "environment")
    assert not [name for name in env if name.startswith("SWITCHYARD_")]
    assert set(env) <= {"PATH", "LANG", "PYTHONDONTWRITEBYTECODE", "PWD", "LC_CTYPE"}
    assert "never-inside" not in json.dumps(env)


async def test_identity_and_filesystem(runner: SandboxRunner, escapes: CodeBundle) -> None:
    fresh = CodeBundle(escapes.key + "-who", escapes.tenant_id, escapes.archive)
    seen = await call(runner, fresh, "whoami")
    assert seen["uid"] == 65534
    assert seen["gid"] == 65534
    assert seen["cwd"] == "/tmp"
    assert "etc" not in seen["root"]
    assert "work" not in seen["root"]


# --- without bubblewrap -------------------------------------------------------------------------------


async def test_unavailable_without_bwrap() -> None:
    made = SandboxRunner(LIMITS, bwrap="/nonexistent/bwrap")
    await made.start()  # never fails the server's start
    try:
        for attempt in (made.run(bundle(), "echo", {}, config={}, connection_id="c", host=no_host),
                        made.inspect(bundle())):  # fmt: skip
            with pytest.raises(SandboxUnavailable) as caught:
                await attempt
            assert caught.value.code == "sandbox.unavailable"
            assert caught.value.status == 503
            assert "apt-get install bubblewrap" in (caught.value.remediation or "")
            assert "SWITCHYARD_SANDBOX_UNSAFE_NO_ISOLATION" in (caught.value.remediation or "")
    finally:
        await made.close()


async def test_unsafe_flag_runs_without_isolation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHYARD_MASTER_KEY", "never-inside")
    made = SandboxRunner(LIMITS, bwrap="/nonexistent/bwrap", unsafe_no_isolation=True, warm_pool=1)
    try:
        await made.fill()
        assert await call(made, bundle(), "shout", {"text": "plain"}) == "PLAIN"
        env = await call(made, bundle(ESCAPES), "environment")
        assert not [name for name in env if name.startswith("SWITCHYARD_")]
        assert "never-inside" not in json.dumps(env)
        with pytest.raises(SandboxError) as caught:  # the rlimits still hold
            await call(made, bundle(ESCAPES), "allocate")
        assert caught.value.code == "sandbox.memory_exceeded"
        with pytest.raises(SandboxError) as caught:
            await call(made, bundle(ESCAPES), "spin")
        assert caught.value.code == "sandbox.cpu_exceeded"
    finally:
        await made.close()
