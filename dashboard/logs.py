"""Logging, set up once per process: fixed event names, values in fields.

Records print as `event key=value ...`. Nothing here knows which values are
secret; callers must never pass tokens, links or bodies as fields.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
}


class FieldsFormatter(logging.Formatter):
    """`time level logger event k=v k=v`, one line per record."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(
            f"{key}={_show(value)}"
            for key, value in record.__dict__.items()
            if key not in _RESERVED and not key.startswith("_")
        )
        line = f"{self.formatTime(record)} {record.levelname} {record.name} {record.getMessage()}"
        if fields:
            line += " " + fields
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _show(value: Any) -> str:
    text = str(value)
    return repr(text) if (" " in text or not text) else text


def configure_logging(level: int = logging.INFO) -> None:
    root = logging.getLogger()
    if any(getattr(h, "_dashboard", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(FieldsFormatter())
    handler._dashboard = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # Uvicorn's access log prints raw paths, and a setup path carries its token:
    # our own request log (middleware.RequestLogMiddleware) replaces it.
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("httpx", "httpcore", "httpx2", "httpcore2", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
