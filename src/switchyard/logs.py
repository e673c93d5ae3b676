"""structlog set-up: JSON (or console) lines carrying the request id, with redaction as the last step.

Standard-library loggers (uvicorn, alembic) go through the same processors, so no line escapes redaction.

The hot path logs a line per proxied call, so the pipeline is kept cheap without weakening it: the
redaction step checks each field name against the secret-like pattern once per name (remembered), works
out the spellings of the request's released values once per line, and only hands a text to the full
redaction when it holds one of them or something shaped like an API key (``syk_``); structlog's own lines
skip the standard library's record copy in the formatter (the rendering is the same).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.types import EventDict, Processor

from switchyard import context
from switchyard.core import redaction
from switchyard.core.redaction import redact, redact_text

_API_KEY_MARK = "syk_"  # every API key the pattern matches contains it
_MAX_REMEMBERED_NAMES = 4096
_secret_names: dict[str, bool] = {}


def _add_request_id(_logger: Any, _name: str, event: EventDict) -> EventDict:
    rid = context.request_id.get()
    if rid is not None:
        event.setdefault("request_id", rid)
    return event


def _secret_name(key: str) -> bool:
    found = _secret_names.get(key)
    if found is None:
        found = redaction.SECRET_KEY.search(key) is not None
        if len(_secret_names) < _MAX_REMEMBERED_NAMES:
            _secret_names[key] = found
    return found


def _redact(_logger: Any, _name: str, event: EventDict) -> EventDict:
    """``redact`` on every field (the ``event`` text by value only), with the common cases short-cut."""
    released = context.released_values()
    spellings = [s for value in released for s in redaction._spellings(value) if s]
    cleaned: EventDict = {}
    for key, value in event.items():
        named = key != "event"
        if named and _secret_name(key):
            cleaned[key] = redaction.REDACTED
        elif type(value) is str:
            if _API_KEY_MARK in value or any(s in value for s in spellings):
                value = redact_text(value, released)
            cleaned[key] = value
        elif value is None or type(value) in (int, float, bool):
            cleaned[key] = value
        else:
            cleaned[key] = redact(value, released, key if named else None)
    return cleaned


class _Formatter(structlog.stdlib.ProcessorFormatter):
    """The ProcessorFormatter, rendering structlog's own records without copying the LogRecord first.

    For those records the base class copies the record, runs ``remove_processors_meta`` and the renderer
    on a copy of the event dict, drops exception and stack information (already rendered by the
    processors) and returns the rendered text: this does the same in one step.
    """

    def __init__(self, renderer: Processor, foreign_pre_chain: list[Processor]) -> None:
        super().__init__(
            foreign_pre_chain=foreign_pre_chain,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
        self._render = renderer

    def format(self, record: logging.LogRecord) -> str:
        event = record.msg
        name = getattr(record, "_name", None)
        if type(event) is not dict or name is None or not hasattr(record, "_logger"):
            return super().format(record)
        rendered = self._render(self.logger or record._logger, name, dict(event))
        return rendered if isinstance(rendered, str) else super().format(record)


def configure(level: str = "INFO", fmt: str = "json") -> None:
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        _add_request_id,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _redact,
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(renderer, shared))
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


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
