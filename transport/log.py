"""Structured JSON-line logging for every process (structlog).

Events are short snake_case names with key/value context. Nothing personal and no report
content is ever logged; alerts are identified by their ids only.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

_configured = False


def configure_logging(level: str = "INFO", stream: TextIO | None = None, process: str = "") -> None:
    global _configured
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if process:
        processors.append(_add_process(process))
    processors += [
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer(),
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    _configured = True


def _add_process(name: str) -> Any:
    def add(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("proc", name)
        return event

    return add


def get_logger(name: str) -> Any:
    # Lazy: the configuration is looked up on first use, after configure_logging has run.
    return structlog.get_logger(component=name)


# Until a process configures logging, log JSON lines to stderr: structlog's own default writes
# coloured text to stdout, which would corrupt a command's output (the benchmarks print JSON).
if not structlog.is_configured():
    configure_logging()
