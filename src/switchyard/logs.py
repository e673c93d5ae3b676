"""structlog set-up: JSON (or console) lines carrying the request id, with redaction as the last step.

Standard-library loggers (uvicorn, alembic) go through the same processors, so no line escapes redaction.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.types import EventDict, Processor

from switchyard import context
from switchyard.core.redaction import redact


def _add_request_id(_logger: Any, _name: str, event: EventDict) -> EventDict:
    rid = context.request_id.get()
    if rid is not None:
        event.setdefault("request_id", rid)
    return event


def _redact(_logger: Any, _name: str, event: EventDict) -> EventDict:
    released = context.released_values()
    return {key: redact(value, released, None if key == "event" else key) for key, value in event.items()}


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
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
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
