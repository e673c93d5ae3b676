"""``switchyard serve`` as a real process on loopback, over http and https."""

from __future__ import annotations

import socket
import ssl
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from tests.cli.conftest import Cli

START_TIMEOUT = 20.0


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    stdout: Path
    stderr: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_up(server: Server, verify: ssl.SSLContext | bool) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"serve exited {server.process.returncode}: {server.stderr.read_text()}")
        try:
            if httpx2.get(f"{server.base_url}/healthz", verify=verify, timeout=1.0).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"serve did not answer within {START_TIMEOUT}s: {server.stderr.read_text()}")


@contextmanager
def serving(cli: Cli, tmp_path: Path, *, tls: bool = False) -> Iterator[Server]:
    port = _free_port()
    args = ["serve", "--port", str(port), *(["--tls"] if tls else [])]
    stdout, stderr = tmp_path / "serve.out", tmp_path / "serve.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(cli.command(*args), stdout=out, stderr=err, env=cli.env())
    server = Server(process, f"{'https' if tls else 'http'}://127.0.0.1:{port}", stdout, stderr)
    try:
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_serve_answers_and_accepts_a_cli_made_key(cli: Cli, demo: dict[str, Any], tmp_path: Path) -> None:
    with serving(cli, tmp_path) as server:
        _wait_until_up(server, verify=True)
        me = httpx2.get(
            f"{server.base_url}/api/v1/tenants/me",
            headers={"Authorization": f"Bearer {demo['api_key']['key']}"},
            timeout=5.0,
        )
        assert me.status_code == 200, me.text
        assert me.json()["name"] == "demo"
        ready = httpx2.get(f"{server.base_url}/readyz", timeout=5.0)
        assert ready.json()["checks"] == {"database": "ok", "migrations": "current"}
    assert server.process.returncode == 0  # SIGTERM is a graceful shutdown
    assert server.stdout.read_text() == f"Switchyard listening on {server.base_url}\n"
    assert "Traceback" not in server.stderr.read_text()


def test_serve_tls_with_a_generated_certificate(cli: Cli, tmp_path: Path) -> None:
    with serving(cli, tmp_path, tls=True) as server:
        cert, key = cli.data_dir / "tls" / "cert.pem", cli.data_dir / "tls" / "key.pem"
        deadline = time.monotonic() + START_TIMEOUT
        while not cert.exists() and time.monotonic() < deadline and server.process.poll() is None:
            time.sleep(0.05)
        _wait_until_up(server, verify=ssl.create_default_context(cafile=str(cert)))
        assert server.base_url.startswith("https://")
        insecure = httpx2.get(f"{server.base_url}/healthz", verify=False, timeout=5.0)
        assert insecure.json() == {"status": "ok", "checks": {}}
    assert server.process.returncode == 0
    assert server.stdout.read_text() == f"Switchyard listening on {server.base_url}\n"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(cli.key_file.stat().st_mode) == 0o600


def test_serve_on_a_busy_port_fails_cleanly(cli: Cli) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = cli.run("serve", "--port", str(port), timeout=20)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-2].startswith(
        f"error [config.listen_failed]: cannot listen on 127.0.0.1:{port}"
    )
    assert "Traceback" not in done.stderr and done.stdout == ""
