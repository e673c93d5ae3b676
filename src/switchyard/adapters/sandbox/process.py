"""One sandboxed guest process, spoken to over JSON-RPC on two pipes: ``Sandbox``.

The guest's stdout and stderr are read all the time and counted against ``output_bytes`` per call (the
first few KiB kept for a crash report), and so are its log lines; a line of JSON-RPC longer than that cap
is refused too (``sandbox.output_exceeded``). A guest request (``http.request``) goes to the call's
``HostCall``; a ``SwitchyardError`` it raises is answered as a JSON-RPC error with its code and detail, and
kept, so that when the hook lets it escape ``run`` raises that very object. Codes the guest reports are
taken only from ``GUEST_CODES``: the guest is not trusted.

The process is reaped, and how it died told, by ``exits.py``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from switchyard.adapters.sandbox.command import SandboxLimits
from switchyard.adapters.sandbox.exits import exit_error, watch_exit
from switchyard.core.errors import SandboxError, SandboxUnavailable, SwitchyardError
from switchyard.logs import get_logger

__all__ = ["CodeBundle", "HostCall", "Sandbox", "clip"]

log = get_logger("switchyard.sandbox")

HostCall = Callable[[str, dict[str, Any]], Awaitable[Any]]

REMEDIATION = (
    "Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) on a host that allows user namespaces; "
    "for development only, SWITCHYARD_SANDBOX_UNSAFE_NO_ISOLATION=true runs the code without isolation."
)
GUEST_CODES = frozenset(
    {"sandbox.import_failed", "sandbox.hook_missing", "sandbox.hook_failed", "sandbox.memory_exceeded",
     "sandbox.file_too_large", "sandbox.bad_result"}
)  # fmt: skip
KEPT_OUTPUT = 4096
MAX_DETAIL = 1000
MAX_LOG_LINES = 100
MAX_LOG_FIELDS = 2048
EXIT_SECONDS = 1.0  # how long an idle guest may take to exit when asked before it is killed
CLOSE_SECONDS = 5.0
LAST_WORDS_SECONDS = 0.5  # after the exit, how long the pipes may take to deliver a crash's last output


@dataclass(frozen=True)
class CodeBundle:
    key: str  # identity, e.g. "ten_1:pkg_2:1.0.1:<sha256>"; a used sandbox is reused only for this key
    tenant_id: str  # a sandbox is never reused across tenants
    archive: bytes  # the package .zip, already validated by the host
    module: str = "connector"


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def clip(text: str, limit: int = MAX_DETAIL) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


@dataclass
class _Call:
    host: HostCall | None
    bundle_key: str | None
    errors: dict[str, BaseException] = field(default_factory=dict)
    logs: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class _Output(asyncio.Protocol):
    """The guest's stdout or stderr: counted, and its end noted."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def data_received(self, data: bytes) -> None:
        self.sandbox._output_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.sandbox._pipe_closed()


class Sandbox:
    """One guest process and the host's end of its pipes."""

    def __init__(self, popen: subprocess.Popen[bytes], limits: SandboxLimits, work_dir: str | None) -> None:
        loop = asyncio.get_running_loop()
        self.popen = popen
        self.pid = popen.pid
        self.limits = limits
        self.work_dir = work_dir  # a host directory to remove (no isolation), else None
        self.key: str | None = None
        self.tenant_id: str | None = None
        self.calls = 0
        self.cpu = 0.0  # as the guest last reported it
        self.idle_since = time.monotonic()
        self.retired = False
        self.failure: SwitchyardError | None = None
        self.ready: asyncio.Future[None] = loop.create_future()
        self.finished: asyncio.Future[None] = loop.create_future()
        self.returncode: int | None = None  # once reaped
        self.exit_cpu: float | None = None  # CPU seconds of the process and its reaped children, once reaped
        self.output = 0
        self.output_head = bytearray()
        self._outputs: list[asyncio.BaseTransport] = []
        self._open_outputs = 2
        self._writer: asyncio.WriteTransport | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._counter = 0
        self._call: _Call | None = None
        self._closed = False

    @classmethod
    async def attach(
        cls, popen: subprocess.Popen[bytes], rpc_read: int, rpc_write: int, limits: SandboxLimits,
        work_dir: str | None,
    ) -> Sandbox:  # fmt: skip
        """Take over a guest just started (``launch.py``), with the host's ends of its two pipes; it is
        ready when ``ready`` resolves."""
        loop = asyncio.get_running_loop()
        sandbox = cls(popen, limits, work_dir)
        watch_exit(popen.pid, sandbox._exited)
        try:
            assert popen.stdout is not None
            assert popen.stderr is not None
            for stream in (popen.stdout, popen.stderr):
                transport, _ = await loop.connect_read_pipe(lambda: _Output(sandbox), stream)
                sandbox._outputs.append(transport)
            reader = asyncio.StreamReader(limit=limits.output_bytes + 1024)
            await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(rpc_read, "rb", buffering=0)
            )
            writer, _ = await loop.connect_write_pipe(
                asyncio.Protocol, os.fdopen(rpc_write, "wb", buffering=0)
            )
        except BaseException:
            sandbox._kill()  # reaped all the same
            raise
        sandbox._writer = writer
        sandbox._reader = loop.create_task(sandbox._read_rpc(reader))
        return sandbox

    @property
    def usable(self) -> bool:
        return self.failure is None and not self._closed and not self.retired

    # --- calls ------------------------------------------------------------------------------------------

    async def load(self, bundle: CodeBundle) -> list[str]:
        self.key, self.tenant_id = bundle.key, bundle.tenant_id
        params = {"archive_base64": base64.b64encode(bundle.archive).decode("ascii"), "module": bundle.module}
        result = await self.call("load", params, host=None)
        callables = result.get("callables") if isinstance(result, dict) else None
        if not isinstance(callables, list):
            raise self._fail(
                SandboxError("the sandbox answered no list of functions", code="sandbox.crashed")
            )
        return [str(name) for name in callables]

    async def run(self, hook: str, payload: dict[str, Any], config: dict[str, Any], connection_id: str,
                  host: HostCall) -> Any:  # fmt: skip
        params = {"hook": hook, "input": payload, "config": config, "connection_id": connection_id}
        result = await self.call("run", params, host=host)
        if not isinstance(result, dict):
            raise self._fail(SandboxError("the sandbox answered no result", code="sandbox.crashed"))
        self.calls += 1
        with contextlib.suppress(TypeError, ValueError):
            self.cpu = float(result.get("cpu", 0.0))
        return result.get("value")

    async def call(self, method: str, params: dict[str, Any], *, host: HostCall | None) -> Any:
        if self.failure is not None:
            raise self.failure
        self._counter += 1
        ident = self._counter
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ident] = reply
        call = self._call = _Call(host, self.key)
        self.output = 0
        try:
            self._send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
            async with asyncio.timeout(self.limits.wall_seconds):
                message = await reply
        except TimeoutError:
            detail = f"the call took longer than {self.limits.wall_seconds:g} s"
            raise self._fail(SandboxError(detail, code="sandbox.timeout")) from None
        finally:
            self._pending.pop(ident, None)
            self._call = None
            for task in call.tasks:
                task.cancel()
        if self.failure is not None and self.failure.code == "sandbox.output_exceeded":
            raise self.failure  # the output went past the cap while the reply was on its way
        if "error" not in message:
            return message.get("result")
        raise self._guest_error(message["error"], call)

    def _guest_error(self, error: Any, call: _Call) -> BaseException:
        error = error if isinstance(error, dict) else {}
        data = _as_dict(error.get("data"))
        code, detail = str(data.get("code")), clip(str(error.get("message", "")))
        if code == "host" and str(data.get("ref")) in call.errors:
            return call.errors[str(data["ref"])]
        if code not in GUEST_CODES:
            code = "sandbox.hook_failed"
        if code == "sandbox.hook_missing":
            return SandboxError(detail, code=code, remediation="Define it at the top level of the module.")
        return SandboxError(detail, code=code)

    def _send(self, message: dict[str, Any]) -> None:
        if self._writer is None or self._writer.is_closing():
            raise self.failure or self._fail(
                SandboxError("the sandbox's pipe is closed", code="sandbox.crashed")
            )
        self._writer.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")

    # --- the guest's side -------------------------------------------------------------------------------

    async def _read_rpc(self, reader: asyncio.StreamReader) -> None:
        while True:
            try:
                line = await reader.readline()
            except (ValueError, asyncio.LimitOverrunError):
                limit = self.limits.output_bytes
                self._fail(
                    SandboxError(
                        f"a message from the code exceeds {limit} bytes", code="sandbox.output_exceeded"
                    )
                )
                return
            if not line:
                return
            try:
                message = json.loads(line)
                if not isinstance(message, dict):
                    raise ValueError("not an object")
                self._receive(message, len(line))
            except (ValueError, TypeError, KeyError) as exc:
                self._fail(SandboxError(f"the sandbox broke the protocol ({exc})", code="sandbox.crashed"))
                return

    def _receive(self, message: dict[str, Any], size: int) -> None:
        method = message.get("method")
        if method is None:  # a reply to one of our calls
            reply = self._pending.get(message["id"]) if isinstance(message.get("id"), int) else None
            if reply is not None and not reply.done():
                reply.set_result(message)
            return
        if method == "ready":
            if not self.ready.done():
                self.ready.set_result(None)
            return
        if method == "log":
            self._count(size)
            self._log(message.get("params"))
            return
        call = self._call
        ident = message.get("id")
        if call is None or call.host is None or not isinstance(ident, str | int):
            return  # a request outside a hook call, or a notification we do not know: ignored
        params = _as_dict(message.get("params"))
        task = asyncio.get_running_loop().create_task(self._serve(call, str(method), params, ident))
        call.tasks.add(task)
        task.add_done_callback(call.tasks.discard)

    async def _serve(self, call: _Call, method: str, params: dict[str, Any], ident: str | int) -> None:
        assert call.host is not None
        try:
            result = await call.host(method, params)
            line = json.dumps({"jsonrpc": "2.0", "id": ident, "result": result}, separators=(",", ":"))
        except SwitchyardError as exc:
            call.errors[str(ident)] = exc
            error = {"code": -32000, "message": exc.detail, "data": {"code": exc.code, "detail": exc.detail}}
            line = json.dumps({"jsonrpc": "2.0", "id": ident, "error": error})
        except Exception as exc:  # a bug of the host's (or an answer that is not JSON): ``run`` raises it
            call.errors[str(ident)] = exc
            error = {"code": -32603, "message": "internal error", "data": {"code": "internal.error"}}
            line = json.dumps({"jsonrpc": "2.0", "id": ident, "error": error})
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(line.encode() + b"\n")

    def _log(self, params: Any) -> None:
        call = self._call
        if call is None or not isinstance(params, dict):
            return
        call.logs += 1
        if call.logs > MAX_LOG_LINES:
            if call.logs == MAX_LOG_LINES + 1:
                log.warning("sandbox.log_capped", bundle=call.bundle_key, lines=MAX_LOG_LINES)
            return
        level = params.get("level")
        emit = {"info": log.info, "warning": log.warning, "error": log.error}.get(str(level), log.info)
        fields = params.get("fields")
        text = json.dumps(fields, default=str)
        emit(
            clip(str(params.get("event")), 200),
            bundle=call.bundle_key,
            fields=fields if len(text) <= MAX_LOG_FIELDS else {"truncated": text[:MAX_LOG_FIELDS]},
        )

    def _output_received(self, chunk: bytes) -> None:
        if len(self.output_head) < KEPT_OUTPUT:
            self.output_head += chunk[: KEPT_OUTPUT - len(self.output_head)]
        self._count(len(chunk))

    def _count(self, size: int) -> None:
        self.output += size
        if self.output > self.limits.output_bytes and self.failure is None:
            limit = self.limits.output_bytes
            self._fail(
                SandboxError(
                    f"the code wrote more than {limit} bytes of output", code="sandbox.output_exceeded"
                )
            )

    # --- the exit -------------------------------------------------------------------------------------

    def _exited(self, code: int, cpu: float | None) -> None:
        self.returncode = self.popen.returncode = code  # Popen must never wait for it itself
        self.exit_cpu = cpu
        if self._open_outputs == 0:
            self._finish()
        else:  # give the pipes a moment to deliver a crash's last words
            asyncio.get_running_loop().call_later(LAST_WORDS_SECONDS, self._finish)

    def _pipe_closed(self) -> None:
        self._open_outputs -= 1
        if self._open_outputs == 0 and self.returncode is not None:
            self._finish()

    def _finish(self) -> None:
        """The guest exited (and its pipes closed, or had their moment): fail what still waits on it."""
        if self.finished.done():
            return
        self.finished.set_result(None)
        if self.failure is None:
            output = self.output_head.decode("utf-8", errors="replace").strip()
            code = -signal.SIGKILL if self.returncode is None else self.returncode
            self._fail(exit_error(code, self.exit_cpu, self.limits, clip(output, 500)))

    # --- the end ----------------------------------------------------------------------------------------

    def _fail(self, error: SwitchyardError) -> SwitchyardError:
        """Mark the sandbox failed (the first reason wins), kill it and fail whatever waits on it."""
        if self.failure is None:
            self.failure = error
        self._kill()
        for reply in self._pending.values():
            if not reply.done():
                reply.set_exception(self.failure)
        if not self.ready.done():
            self.ready.set_exception(self.failure)
            self.ready.exception()  # retrieved: nobody may be waiting for it
        return self.failure

    def _kill(self) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)  # its own session: bwrap (and so the guest) or the guest

    async def close(self) -> None:
        """End the process and wait until it is reaped: an idle one is asked to exit (the guest exits, then
        bwrap), any other is killed."""
        if self._closed:
            return
        self._closed = True
        closed = SandboxUnavailable("the sandbox was closed")
        if self.failure is None and not self._pending and self.ready.done() and self._writer is not None:
            self.failure = closed
            self._writer.close()  # the guest reads the end of its input and exits
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(EXIT_SECONDS):
                    await asyncio.shield(self.finished)
        self._fail(closed)  # kills it, unless it is gone already
        if self._writer is not None:
            self._writer.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_SECONDS):
                await asyncio.shield(self.finished)
        if self.returncode is None:
            log.warning("sandbox.not_reaped", pid=self.pid, seconds=CLOSE_SECONDS)
        for transport in self._outputs:
            transport.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self.work_dir is not None:
            await asyncio.to_thread(shutil.rmtree, self.work_dir, True)
