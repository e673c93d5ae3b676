"""uvicorn around the app, on a socket ``serve`` already bound and a container it already started.

uvicorn replays the signal that stopped it once its graceful shutdown is done (to give the default
behaviour back); the replay is ignored here so the container closes and the process exits 0.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import uvicorn

from switchyard.adapters.tls import TlsFiles
from switchyard.api.app import create_app
from switchyard.cli.output import say
from switchyard.services.container import Container


class _AnnouncingServer(uvicorn.Server):
    """Prints where it listens once it accepts connections."""

    def __init__(self, config: uvicorn.Config, url: str) -> None:
        super().__init__(config)
        self.url = url

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            say(f"Switchyard listening on {self.url}")


async def run_server(container: Container, listener: socket.socket, tls_files: TlsFiles | None) -> None:
    config = uvicorn.Config(
        create_app(container=container),
        log_config=None,
        lifespan="on",
        ssl_certfile=str(tls_files.cert) if tls_files else None,
        ssl_keyfile=str(tls_files.key) if tls_files else None,
    )
    address, port = listener.getsockname()[:2]
    shown = f"[{address}]" if ":" in address else address
    server = _AnnouncingServer(config, f"{'https' if tls_files else 'http'}://{shown}:{port}")
    with listener, _replayed_signals_ignored():
        await server.serve(sockets=[listener])


def _ignore(_signal: int, _frame: FrameType | None) -> None:
    """The shutdown the signal asked for has already happened."""


@contextmanager
def _replayed_signals_ignored() -> Iterator[None]:
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
