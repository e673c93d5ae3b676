"""The runtime inside a sandbox: ``python -I -S -B guest.py RPC_IN RPC_OUT WORK_DIR``.

Standard library only (it runs with no site-packages, isolated from the environment); never imports
Switchyard. It speaks JSON-RPC 2.0, one JSON object per line, over two pipes the host passed (not stdin or
stdout, which are the code's own and which the host captures and counts).

Host to guest: ``load`` {archive_base64, module} extracts the package into the work dir, puts it first on
``sys.path`` and imports the module (answer: its public functions); ``run`` {hook, input, config,
connection_id} calls ``hook(ctx, input)``, awaiting it when it is a coroutine (answer: {value, cpu}).
Guest to host: ``ready`` (a notification, once started), ``log`` (notifications), ``http.request``
(requests, answered by the host, which holds the credentials). A failure is an error reply whose ``data``
carries a ``sandbox.*`` code, or ``host`` and the ``ref`` of the host's error the hook let escape.

Nothing here is trusted by the host: the hook's code can reach all of it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import importlib
import inspect
import io
import json
import os
import signal
import sys
import threading
import traceback
import zipfile
from typing import Any

MAX_MESSAGE = 256 * 1024 * 1024  # the host bounds what it sends (archives are checked on upload)
MAX_TEXT = 500
SERVER_ERROR = -32000
FILE_ERRORS = frozenset({errno.EFBIG, errno.ENOSPC, errno.EDQUOT})


class Failure(Exception):
    def __init__(self, code: str, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


class HostError(Exception):
    """The host refused a request (``code`` as in Switchyard's errors, e.g. ``provider.rejected``)."""

    def __init__(self, code: str, detail: str, ref: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.ref = ref


class Channel:
    """Writes whole lines to the host (from any thread) and matches its replies to our requests."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lock = threading.Lock()
        self.pending: dict[str, asyncio.Future[Any]] = {}
        self.counter = 0

    def send(self, message: dict[str, Any]) -> None:
        self.write(json.dumps(message, separators=(",", ":"), default=str))

    def write(self, line: str) -> None:
        data = (line + "\n").encode()
        with self.lock:
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view) :]

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    async def request(self, method: str, params: dict[str, Any]) -> Any:
        self.counter += 1
        ident = f"g{self.counter}"
        future = asyncio.get_running_loop().create_future()
        self.pending[ident] = future
        try:
            self.send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
            return await future
        finally:
            self.pending.pop(ident, None)

    def resolve(self, message: dict[str, Any]) -> None:
        future = self.pending.get(str(message.get("id")))
        if future is None or future.done():
            return
        error = message.get("error")
        if isinstance(error, dict):
            data = as_dict(error.get("data"))
            code = str(data.get("code", "host.error"))
            detail = str(data.get("detail", error.get("message", "")))
            future.set_exception(HostError(code, detail, str(message.get("id"))))
        else:
            future.set_result(message.get("result"))


class Response:
    """The provider's answer to ``ctx.http.request``."""

    def __init__(self, status: int, headers: list[list[str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def __repr__(self) -> str:
        return f"<Response {self.status}, {len(self.body)} bytes>"


class Http:
    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Any = None,
        json_body: Any = None,
        headers: Any = None,
    ) -> Response:
        params = {"method": method, "path": path, "query": query, "json_body": json_body, "headers": headers}
        answer = await self._channel.request("http.request", params)
        if not isinstance(answer, dict):
            raise HostError("sandbox.bad_answer", "the host answered no response", "")
        body = base64.b64decode(answer.get("body_base64") or "")
        return Response(int(answer.get("status", 0)), list(answer.get("headers") or []), body)


class Log:
    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    def _send(self, level: str, event: str, fields: dict[str, Any]) -> None:
        self._channel.notify("log", {"level": level, "event": str(event), "fields": fields})

    def info(self, event: str, **fields: Any) -> None:
        self._send("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._send("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._send("error", event, fields)


class Context:
    """What a hook gets besides its input; it never holds a credential."""

    def __init__(self, channel: Channel, config: dict[str, Any], connection_id: str) -> None:
        self.config = config
        self.connection_id = connection_id
        self.log = Log(channel)
        self.http = Http(channel)


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def describe(exc: BaseException, root: str | None = None) -> str:
    text = str(exc)
    text = text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "..."
    where = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__) if root else []):
        if root and frame.filename.startswith(root + os.sep):
            where = f" ({os.path.relpath(frame.filename, root)}, line {frame.lineno})"
            break
    return f"{type(exc).__name__}: {text}{where}" if text else f"{type(exc).__name__}{where}"


def is_hook(module: Any, name: str, value: Any) -> bool:
    """A public function defined by the package (not one it imported from elsewhere)."""
    if name.startswith("_") or not inspect.isfunction(value):
        return False
    origin = getattr(value, "__module__", "") or ""
    return bool(origin == module.__name__ or origin.startswith(module.__name__ + "."))


def public_functions(module: Any) -> list[str]:
    return sorted(name for name, value in vars(module).items() if is_hook(module, name, value))


class Guest:
    def __init__(self, channel: Channel, work_dir: str) -> None:
        self.channel = channel
        self.root = os.path.join(work_dir, "package")
        self.module: Any = None

    def load(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.module is not None:
            raise Failure("sandbox.bad_request", "a package is loaded already")
        name = str(params.get("module") or "connector")
        archive = base64.b64decode(params.get("archive_base64") or "")
        os.makedirs(self.root, exist_ok=True)
        try:
            with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
                bundle.extractall(self.root)
        except (OSError, zipfile.BadZipFile, ValueError) as exc:
            raise Failure(
                "sandbox.import_failed", "the archive cannot be extracted: " + describe(exc)
            ) from None
        sys.path.insert(0, self.root)
        try:
            module = importlib.import_module(name)
        except BaseException as exc:  # the package's code: anything may come out of it
            raise Failure("sandbox.import_failed", describe(exc, self.root)) from None
        self.module = module
        return {"callables": public_functions(module)}

    async def run(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.module is None:
            raise Failure("sandbox.bad_request", "no package is loaded")
        hook = str(params.get("hook"))
        function: Any = getattr(self.module, hook, None)
        if not is_hook(self.module, hook, function):
            raise Failure("sandbox.hook_missing", f"the package's code defines no function {hook!r}")
        config = params.get("config") or {}
        ctx = Context(self.channel, config, str(params.get("connection_id", "")))
        try:
            value = function(ctx, params.get("input"))
            if inspect.isawaitable(value):
                value = await value
        except HostError as exc:
            raise Failure("host", exc.detail, ref=exc.ref) from None
        except MemoryError:
            raise Failure("sandbox.memory_exceeded", "the hook ran out of memory") from None
        except OSError as exc:
            if exc.errno in FILE_ERRORS:
                raise Failure("sandbox.file_too_large", describe(exc, self.root)) from None
            raise Failure("sandbox.hook_failed", describe(exc, self.root)) from None
        except BaseException as exc:  # the hook's own failure, whatever it is
            raise Failure("sandbox.hook_failed", describe(exc, self.root)) from None
        times = os.times()
        return {"value": value, "cpu": times.user + times.system}

    async def handle(self, message: dict[str, Any]) -> None:
        ident = message.get("id")
        method = message.get("method")
        params = as_dict(message.get("params"))
        try:
            if method == "load":
                result = self.load(params)
            elif method == "run":
                result = await self.run(params)
            else:
                raise Failure("sandbox.bad_request", f"unknown method {method!r}")
            flush()
            try:
                line = json.dumps({"jsonrpc": "2.0", "id": ident, "result": result}, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise Failure(
                    "sandbox.bad_result", "the hook returned a value that is not JSON: " + str(exc)
                ) from None
            except MemoryError:
                raise Failure("sandbox.memory_exceeded", "the hook's result does not fit in memory") from None
            self.channel.write(line)
        except Failure as failure:
            flush()
            data = {"code": failure.code, "ref": failure.ref}
            error = {"code": SERVER_ERROR, "message": failure.message, "data": data}
            self.channel.send({"jsonrpc": "2.0", "id": ident, "error": error})


def flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


async def serve(rpc_in: int, channel: Channel, work_dir: str) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_MESSAGE)
    pipe = os.fdopen(rpc_in, "rb", buffering=0)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    guest = Guest(channel, work_dir)
    running: set[asyncio.Task[None]] = set()
    channel.notify("ready", {"pid": os.getpid()})
    while True:
        try:
            line = await reader.readline()
        except ValueError:  # a line past MAX_MESSAGE: the host broke the protocol
            return
        if not line:
            return  # the host closed the pipe: time to go
        message = json.loads(line)
        if "method" in message:
            task = loop.create_task(guest.handle(message))
            running.add(task)
            task.add_done_callback(running.discard)
        else:
            channel.resolve(message)


def cpu_exceeded(number: int, frame: Any) -> None:
    """SIGXCPU, at the soft CPU limit: end as its default action would (pid 1 of a namespace ignores that
    default, so without this the code would run on to the hard limit's SIGKILL)."""
    os._exit(128 + signal.SIGXCPU)


def main(argv: list[str]) -> None:
    rpc_in, rpc_out, work_dir = int(argv[1]), int(argv[2]), argv[3]
    signal.signal(signal.SIGXCPU, cpu_exceeded)
    os.chdir(work_dir)
    asyncio.run(serve(rpc_in, Channel(rpc_out), work_dir))
    flush()
    os._exit(0)  # do not wait for threads the hooks may have left running


if __name__ == "__main__":
    main(sys.argv)
