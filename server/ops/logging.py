"""Structured logging: JSON lines for machines, readable lines on a terminal.

Every record is one event per line. Tokens and secrets are masked before they are
written (see :data:`SECRET_PATTERN`). The ``tickwire.audit`` logger (joins, leaves,
kicks, rejected auth) is always emitted at INFO or above whatever ``--log-level`` says.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

SECRET_PATTERN = re.compile(
    r"(?P<key>token|resume|secret|password)(?P<sep>[\"']?\s*[=:]\s*[\"']?)(?P<val>[^\s\"',}]+)",
    re.IGNORECASE,
)


def mask_secrets(text: str) -> str:
    """Replace the value of anything that looks like ``token=...`` with ``***``."""
    return SECRET_PATTERN.sub(lambda m: f"{m['key']}{m['sep']}***", text)


CONTEXT_KEYS = ("match_id", "match_trace_id", "player_id", "conn_id", "trace_id")
"""Context fields a record may carry (see server.ops.events.log_event)."""


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, event, msg, plus context fields.

    ``event`` is the record's event name (:class:`server.ops.events.Event`); records
    from other libraries, which have none, use their message as the event.
    """

    def format(self, record: logging.LogRecord) -> str:
        msg = mask_secrets(record.getMessage())
        payload: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event_name", msg),
            "msg": msg,
        }
        for key in CONTEXT_KEYS:
            value = getattr(record, key, None)
            if value is not None:
                payload[key] = value
        act = getattr(record, "audit", None)  # an audited act (server.audit.audit_act)
        if isinstance(act, dict):
            for key, value in act.items():
                payload.setdefault(key, mask_secrets(value) if isinstance(value, str) else value)
        if record.exc_info:
            payload["exc"] = mask_secrets(self.formatException(record.exc_info))
        return json.dumps(payload)


class ConsoleFormatter(logging.Formatter):
    """Readable single lines for a terminal, secrets masked."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(
            f"{k}={getattr(record, k)}" for k in CONTEXT_KEYS if getattr(record, k, None)
        )
        return mask_secrets(f"{line}  [{context}]" if context else line)


class _AuditAlways(logging.Filter):
    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.startswith("tickwire.audit") or record.levelno >= self.level


def configure_logging(fmt: str = "auto", level: str = "info") -> None:
    """Install one stderr handler on the root logger with the chosen format."""
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    handler.addFilter(_AuditAlways(numeric))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(min(numeric, logging.INFO))
    logging.getLogger("tickwire.audit").setLevel(logging.INFO)
    logging.getLogger("tickwire.websockets").setLevel(max(numeric, logging.WARNING))
