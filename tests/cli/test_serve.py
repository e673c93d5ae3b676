"""``switchyard serve`` as a real process on loopback, over http and https."""

from __future__ import annotations

import socket
import ssl
import stat
import time
from pathlib import Path
from typing import Any

import httpx2

from tests.cli.conftest import START_TIMEOUT, Cli, serving
from tests.cli.conftest import wait_until_up as _wait_until_up


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


async def test_accepted_connections_send_without_delay() -> None:
    """asyncio sets TCP_NODELAY on accepted sockets only when the listener is IPPROTO_TCP; without it a
    kept-alive client waits for its delayed ACK on every answer (about 40 ms)."""
    import asyncio
    import socket

    from switchyard.cli.serve import _bind

    listener = _bind("127.0.0.1", 0)
    seen: list[int] = []

    async def accepted(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(accepted, sock=listener)
    async with server:
        _reader, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
    assert seen == [1]
