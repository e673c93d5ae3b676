"""Runs the real ``switchyard`` command in subprocesses over a fresh data dir (SQLite, generated key file)."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from switchyard.services.container import Container, build
from switchyard.settings import Settings
from tests.conftest import LOOPBACK_HOSTS, LOOPBACK_NETWORKS

COMMAND_TIMEOUT = 30.0
START_TIMEOUT = 20.0


@dataclass
class Cli:
    data_dir: Path
    extra_env: dict[str, str]

    def env(self, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
        # Nothing SWITCHYARD_* leaks in from the machine running the tests.
        env = {key: value for key, value in os.environ.items() if not key.startswith("SWITCHYARD_")}
        env.update(
            SWITCHYARD_DATA_DIR=str(self.data_dir),
            SWITCHYARD_ACTIVE_KEY_TTL_SECONDS="0.2",  # keeps rotation passes short
            SWITCHYARD_EGRESS_ALLOW_HTTP_HOSTS=LOOPBACK_HOSTS,  # the peers serve http on loopback
            SWITCHYARD_EGRESS_ALLOW_NETWORKS=LOOPBACK_NETWORKS,
            **self.extra_env,
        )
        env.update(overrides or {})
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "switchyard.cli.main", *args]

    def run(
        self,
        *args: str,
        stdin: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = COMMAND_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            env=self.env(env),
            timeout=timeout,
            check=False,
        )

    def ok(self, *args: str, stdin: str | None = None) -> str:
        """stdout of a command that must succeed."""
        done = self.run(*args, stdin=stdin)
        assert done.returncode == 0, f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def json(self, *args: str, stdin: str | None = None) -> Any:
        return json.loads(self.ok(*args, "--json", stdin=stdin))

    @property
    def key_file(self) -> Path:
        return self.data_dir / "master-keys.json"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(data_dir=tmp_path / "data", extra_env={})


@pytest.fixture
def demo(cli: Cli) -> dict[str, Any]:
    """A tenant named demo, created through the CLI: its JSON (tenant and admin key)."""
    created: dict[str, Any] = cli.json("tenants", "create", "demo")
    return created


@asynccontextmanager
async def open_container(data_dir: Path) -> AsyncIterator[Container]:
    """The services over the same data dir, in this process, to check what the CLI did."""
    settings = Settings(
        data_dir=data_dir,
        database_url=None,
        master_key=None,
        master_key_file=None,
        egress_allow_http_hosts=LOOPBACK_HOSTS,
        egress_allow_networks=LOOPBACK_NETWORKS,
    )
    container = build(settings)
    await container.start(upgrade=False)
    try:
        yield container
    finally:
        await container.close()


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    stdout: Path
    stderr: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_up(server: Server, verify: ssl.SSLContext | bool = True) -> None:
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
    """``switchyard serve`` on a free loopback port over ``cli``'s data dir; stopped (SIGTERM) on exit."""
    port = free_port()
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
