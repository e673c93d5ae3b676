"""structlog set-up: JSON (or console) lines carrying the request id, with redaction as the last step.

Standard-library loggers (uvicorn, alembic) go through the same processors, so no line escapes redaction.

The proxy writes a line per call, so the pipeline is kept cheap without weakening it:

* a line below the level is dropped before any processing;
* redaction looks at a line of plain values (texts, numbers, booleans, none) in one step: when its texts,
  taken together, hold no released value, no backslash (every other spelling of a value, inside a repr or
  a JSON string, has one: checked against the redaction module when this module loads, and when that no
  longer holds every line takes the long way) and nothing shaped like an API key (``syk_``), only its
  secret-named fields are replaced (the names remembered per set of fields); any other line goes through
  ``redact`` field by field, as before;
* request id, level, logger name and timestamp are added in one step, and the timestamp reuses its
  formatted second; exceptions are formatted only for lines that carry one; the JSON encoder is built
  once, not per line; each line is written and flushed under one lock;
* structlog's own records skip the standard library's record copy in the formatter (same rendering), and
  records carry no caller, thread or process information (no line shows it; the logging HOWTO's
  "Optimization" section lists these switches);
* ``get_logger`` binds a logger once per structlog configuration, where structlog's lazy proxy (its
  caching is off, so that a later configuration takes effect) binds one anew for every line.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Collection
from datetime import UTC, datetime
from json import encoder as json_encoder
from typing import Any

import structlog
from structlog.types import EventDict, Processor

from switchyard import context
from switchyard.core import redaction
from switchyard.core.redaction import redact

_API_KEY_MARK = "syk_"  # every API key the pattern matches contains it
_MAX_REMEMBERED_NAMES = 4096
_secret_names: dict[str, bool] = {}


def _secret_name(key: str) -> bool:
    found = _secret_names.get(key)
    if found is None:
        found = redaction.SECRET_KEY.search(key) is not None
        if len(_secret_names) < _MAX_REMEMBERED_NAMES:
            _secret_names[key] = found
    return found


def _escapes_use_backslashes() -> bool:
    """Whether every spelling ``redaction`` looks for, other than a value itself, contains a backslash."""
    probes = [
        "plain",
        "it's",
        'say "hi"',
        "back\\slash",
        "new\nline",
        "tab\there",
        "ünï",
        "€",
        "a/b c%",
        "\x7f",
    ]
    return all(s == value or "\\" in s for value in probes for s in redaction._spellings(value))


_BACKSLASH_RULE = _escapes_use_backslashes()


def _may_hold(text: str, released: Collection[str]) -> bool:
    """False only when ``text`` cannot hold a released value in any spelling, nor an API key."""
    if _API_KEY_MARK in text:
        return True
    if not released:
        return False
    if not _BACKSLASH_RULE or "\\" in text:
        return True
    return any(value in text for value in released)


_FLAT = frozenset({str, int, float, bool, type(None)})
_secret_fields: dict[tuple[str, ...], tuple[str, ...]] = {}  # a line's field names: those named like secrets


def _secret_fields_of(names: tuple[str, ...]) -> tuple[str, ...]:
    found = _secret_fields.get(names)
    if found is None:
        found = tuple(name for name in names if name != "event" and _secret_name(name))
        if len(_secret_fields) < _MAX_REMEMBERED_NAMES:
            _secret_fields[names] = found
    return found


def _redact(_logger: Any, _name: str, event: EventDict) -> EventDict:
    """``redact`` on every field (the ``event`` text by value only), with the common case short-cut: a line
    of plain values whose texts, checked together, hold nothing to redact only loses its secret-named
    fields; any other line goes through ``redact`` field by field."""
    released = context.released_values()
    texts = []
    for value in event.values():
        kind = type(value)
        if kind is str:
            texts.append(value)
        elif kind not in _FLAT:
            break
    else:
        if not _may_hold("\x00".join(texts), released):
            for name in _secret_fields_of(tuple(event)):
                event[name] = redaction.REDACTED
            return event
    for key, value in event.items():
        event[key] = redact(value, released, None if key == "event" else key)
    return event


class _Stamp:
    """``request_id`` (when in a request), ``level``, ``logger`` and ``timestamp``, in that order, as
    structlog's ``add_log_level``, ``add_logger_name`` and ``TimeStamper(fmt="iso", utc=True)`` write them (in
    one step, with the date and time of day formatted once per second)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, logger: Any, method_name: str, event: EventDict) -> EventDict:
        rid = context.request_id.get()
        if rid is not None:
            event.setdefault("request_id", rid)
        event["level"] = _LEVELS.get(method_name, method_name)
        record = event.get("_record")
        event["logger"] = logger.name if record is None else record.name
        now = time.time_ns() // 1000
        second, micro = divmod(now, 1_000_000)
        if second != self._second:
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = second
        event["timestamp"] = f"{self._prefix}.{micro:06d}Z" if micro else self._prefix + "Z"
        return event


_LEVELS = {"warn": "warning", "exception": "error"}  # structlog's method names that are not level names


def _exceptions(logger: Any, method_name: str, event: EventDict) -> EventDict:
    """structlog's ``format_exc_info``, for the lines that carry ``exc_info``."""
    if "exc_info" in event:
        return structlog.processors.format_exc_info(logger, method_name, event)
    return event


def _json_fallback(value: Any) -> Any:
    """What structlog's JSON renderer writes for a value JSON has no type for."""
    render = getattr(value, "__structlog__", None)
    return render() if callable(render) else repr(value)


def _json_renderer() -> Processor:
    """``json.dumps(event, default=...)`` as structlog's ``JSONRenderer`` calls it, with the C encoder built
    once. Redacted event dicts are new dicts and lists, so they hold no cycles to look for."""
    make = getattr(json_encoder, "c_make_encoder", None)
    if make is None:
        return structlog.processors.JSONRenderer(default=_json_fallback)
    encode = make(
        None, _json_fallback, json_encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True
    )

    def render(_logger: Any, _name: str, event: EventDict) -> str:
        try:
            return "".join(encode(event, 0))
        except (TypeError, ValueError, RecursionError):  # what json.dumps would make of it, error included
            return json.dumps(event, default=_json_fallback)

    return render


class _Formatter(structlog.stdlib.ProcessorFormatter):
    """The ProcessorFormatter, rendering structlog's own records without copying the LogRecord first.

    For those records the base class copies the record, runs ``remove_processors_meta`` and the renderer
    on a copy of the event dict, drops exception and stack information (already rendered by the
    processors) and returns the rendered text: this does the same in one step (on the record's own event
    dict when the renderer leaves it as it is, as the JSON one does).
    """

    def __init__(self, renderer: Processor, foreign_pre_chain: list[Processor], *, copy: bool) -> None:
        super().__init__(
            foreign_pre_chain=foreign_pre_chain,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
        self._render = renderer
        self._copy = copy

    def format(self, record: logging.LogRecord) -> str:
        event = record.msg
        name = getattr(record, "_name", None)
        if type(event) is not dict or name is None or not hasattr(record, "_logger"):
            return super().format(record)
        rendered = self._render(self.logger or record._logger, name, dict(event) if self._copy else event)
        return rendered if isinstance(rendered, str) else super().format(record)


class _LineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A ``StreamHandler`` that writes and flushes each line under the lock ``handle`` already holds."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = self.stream
            stream.write(self.format(record) + self.terminator)
            stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def configure(level: str = "INFO", fmt: str = "json") -> None:
    shared: list[Processor] = [structlog.contextvars.merge_contextvars, _Stamp(), _exceptions, _redact]
    renderer: Processor = _json_renderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    logging._srcfile = None  # no caller lookup per record
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = _LineHandler(sys.stderr)
    handler.setFormatter(_Formatter(renderer, shared, copy=fmt != "json"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)  # our own access line replaces it
    # The SQLite driver traces every statement with its bound parameters (ciphertexts, key digests), from its
    # own thread and so without the request id: not even DEBUG output should carry that.
    logging.getLogger("aiosqlite").setLevel(max(root.level, logging.INFO))


def is_configured() -> bool:
    return structlog.is_configured()


class _Logger:
    """``structlog.get_logger(name)``, bound again only when structlog's configuration has changed."""

    __slots__ = ("_bound", "_config", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._config: tuple[Any, ...] = ()
        self._bound: Any = None

    def _logger(self) -> Any:
        config = structlog.get_config()
        processors, factory = config["processors"], config["logger_factory"]
        wrapper, context_class = config["wrapper_class"], config["context_class"]
        cached = self._config
        if (
            not cached
            or processors is not cached[0]
            or factory is not cached[1]
            or wrapper is not cached[2]
            or context_class is not cached[3]
        ):
            self._bound = structlog.get_logger(self._name).bind()
            self._config = (processors, factory, wrapper, context_class)
        return self._bound

    def debug(self, event: str | None = None, *args: Any, **kw: Any) -> Any:
        return self._logger().debug(event, *args, **kw)

    def info(self, event: str | None = None, *args: Any, **kw: Any) -> Any:
        return self._logger().info(event, *args, **kw)

    def warning(self, event: str | None = None, *args: Any, **kw: Any) -> Any:
        return self._logger().warning(event, *args, **kw)

    def error(self, event: str | None = None, *args: Any, **kw: Any) -> Any:
        return self._logger().error(event, *args, **kw)

    def exception(self, event: str | None = None, *args: Any, **kw: Any) -> Any:
        return self._logger().exception(event, *args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger(), name)


def get_logger(name: str) -> Any:
    return _Logger(name)
