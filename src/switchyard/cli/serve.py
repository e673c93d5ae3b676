"""``switchyard serve``: the HTTP API under uvicorn.

Everything that can fail at start-up happens before uvicorn takes over, so that a failure is one clear
error line instead of a lifespan trace: the container starts (schema, master keys), the TLS files are
made, and the listening socket is bound. The web stack itself (``server.py``) is imported only here, which
keeps the operator commands quick to start.
"""

from __future__ import annotations

import socket
from typing import Annotated

import typer

from switchyard.adapters.tls import ensure_self_signed, hosts_for
from switchyard.cli.runtime import load_settings, run_with_container
from switchyard.core.errors import ConfigurationError
from switchyard.services.container import Container

_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - names to leave out of a certificate


def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on; 0.0.0.0 for every interface.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port; 0 picks a free one.")] = 8080,
    tls: Annotated[
        bool,
        typer.Option(
            "--tls",
            help="Serve https with a self-signed certificate kept in <data dir>/tls/ (made when missing, "
            "renewed 30 days before it expires).",
        ),
    ] = False,
) -> None:
    """Run the HTTP API. In single-node mode (SQLite) this migrates the database and creates the master
    key file on first start; otherwise the schema must already be current (switchyard db upgrade).
    SIGINT or SIGTERM shut it down gracefully."""
    from switchyard.cli.server import run_server  # the web stack, only when serving

    settings = load_settings()

    async def run(container: Container) -> None:
        if settings.is_sqlite:  # single node: the operator reads this process's output
            link = await container.console.setup_link()
            if link is not None:
                typer.echo(
                    f"No console user yet. Open this one-time link to set up the console (valid 24 h): {link}",
                    err=True,
                )
        tls_files = None
        if tls:
            names = hosts_for(settings.public_base_url) + ([host] if host not in _WILDCARD_HOSTS else [])
            tls_files = ensure_self_signed(settings.data_dir / "tls", list(dict.fromkeys(names)))
        await run_server(container, _bind(host, port), tls_files)

    run_with_container(run, settings=settings, serving=True)


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket. It is made with ``IPPROTO_TCP`` named, because asyncio sets ``TCP_NODELAY`` on
    accepted connections only when the listener says so; without it an answer's body, sent after its head,
    waits for the client's delayed ACK (about 40 ms per call on a kept-alive connection)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        server = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind((host, port))
            server.listen()
        except OSError:
            server.close()
            raise
        return server
    except OSError as exc:
        raise ConfigurationError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            code="config.listen_failed",
            remediation="Pick another --port or --host, or stop the process that holds this one.",
        ) from None
