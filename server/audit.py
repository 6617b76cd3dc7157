"""The audit trail: one JSON line per audited act, each sealed into a hash chain.

Everything logged on the ``tickwire.audit`` logger (joins, leaves, drops, resumes,
rejected tokens, bans, every admin act) is audited; that logger is emitted at INFO
whatever ``--log-level`` says (:func:`server.ops.logging.configure_logging`). With
``--audit-file`` an :class:`AuditFileHandler` appends each record to the file as::

    {"action":"kick","actor":"ops","event":"admin.act","hash":"9f..","level":"info",
     "msg":"...","prev":"3c..","result":"ok","seq":42,"target":"m1/7","ts":"...Z"}

``hash`` is SHA-256 over the line's canonical JSON (sorted keys, no spaces) *without*
``hash`` but *with* ``prev``, the previous line's hash (64 zeros for the first line). So:

- an **edited** line no longer matches its own hash (or, if the editor recomputed it, the
  next line's ``prev`` no longer matches);
- a **deleted** or **reordered** line breaks the next line's ``prev`` (and ``seq``);
- a **truncated tail** is the one change the chain alone cannot show: compare the head
  (``python -m server.audit verify`` prints it, ``GET /admin/audit`` serves it) with a copy
  kept elsewhere, and pass it as ``--expect-head``.

A server restarted on the same file continues its chain from the last line. Values of
keys that look secret (``token``, ``secret``, ``password``...) are written as ``***``, and
messages pass through :func:`server.ops.logging.mask_secrets`: a token never reaches the
trail. ``python -m server.audit verify FILE`` checks a file (exit 0 intact, 1 broken).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.ops.events import log_event
from server.ops.logging import CONTEXT_KEYS, mask_secrets

AUDIT_LOGGER = "tickwire.audit"
GENESIS = "0" * 64
"""The ``prev`` of a chain's first line."""
SECRET_KEYS = ("token", "secret", "password", "credential", "authorization", "resume")

audit_log = logging.getLogger(AUDIT_LOGGER)


def canonical(entry: dict[str, Any]) -> bytes:
    """The bytes a line's hash covers: sorted keys, compact separators, ASCII only."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def line_hash(entry: dict[str, Any]) -> str:
    """SHA-256 (hex) of ``entry`` without its ``hash`` key (``prev`` included)."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(canonical(body)).hexdigest()


def _mask_value(key: str, value: Any) -> Any:
    if any(s in key.lower() for s in SECRET_KEYS):
        return "***"
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, dict):
        return {k: _mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_value(key, v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return mask_secrets(str(value))


@dataclass(slots=True)
class AuditChain:
    """The running chain: the last line's hash and ``seq``; :meth:`seal` adds one line."""

    prev: str = GENESIS
    seq: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def seal(self, entry: dict[str, Any]) -> str:
        """``entry`` with ``seq``, ``prev`` and ``hash`` added, as one JSON line (no newline)."""
        with self._lock:
            sealed = dict(entry)
            sealed["seq"] = self.seq + 1
            sealed["prev"] = self.prev
            sealed["hash"] = line_hash(sealed)
            self.seq, self.prev = sealed["seq"], sealed["hash"]
            return canonical(sealed).decode()

    @classmethod
    def resume(cls, path: Path) -> AuditChain:
        """The chain that continues ``path``'s last line (a fresh one for an empty file)."""
        last = _last_line(path)
        if not last:
            return cls()
        try:
            entry = json.loads(last)
            return cls(prev=str(entry["hash"]), seq=int(entry["seq"]))
        except (ValueError, KeyError, TypeError):
            # A corrupt last line: keep appending; verify reports the break where it is.
            return cls(prev=hashlib.sha256(last.encode()).hexdigest(), seq=0)


def _last_line(path: Path) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 65536))
            lines = f.read().splitlines()
    except FileNotFoundError:
        return ""
    for raw in reversed(lines):
        if raw.strip():
            return raw.decode("utf-8", "replace")
    return ""


def entry_of(record: logging.LogRecord) -> dict[str, Any]:
    """The audit fields of a log record: time, event, message, context, act fields."""
    entry: dict[str, Any] = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        + f".{int(record.msecs):03d}Z",
        "level": record.levelname.lower(),
        "event": getattr(record, "event_name", "audit"),
        "msg": mask_secrets(record.getMessage()),
    }
    for key in CONTEXT_KEYS:
        value = getattr(record, key, None)
        if value is not None:
            entry[key] = value
    act = getattr(record, "audit", None)
    if isinstance(act, dict):
        for key, value in act.items():
            entry[key] = _mask_value(key, value)
    return entry


class AuditFileHandler(logging.Handler):
    """Appends each audit record to ``path`` as a sealed line (flushed per line)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(logging.INFO)
        self.path = Path(path)
        self.chain = AuditChain.resume(self.path)
        self._file = self.path.open("a", encoding="ascii")

    @property
    def head(self) -> str:
        """The hash of the last line written (the value to keep for ``--expect-head``)."""
        return self.chain.prev

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.chain.seal(entry_of(record))
            self._file.write(line + "\n")
            self._file.flush()
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        super().close()


def install_audit_file(path: str | Path) -> AuditFileHandler:
    """Attach an :class:`AuditFileHandler` for ``path`` to the audit logger."""
    handler = AuditFileHandler(path)
    audit_log.addHandler(handler)
    if audit_log.level == logging.NOTSET or audit_log.level > logging.INFO:
        audit_log.setLevel(logging.INFO)
    return handler


def remove_audit_file(handler: AuditFileHandler) -> None:
    """Detach and close a handler from :func:`install_audit_file`."""
    audit_log.removeHandler(handler)
    handler.close()


def audit_act(
    event: Any,
    msg: str,
    *,
    actor: str,
    action: str,
    target: str,
    result: str,
    level: int = logging.INFO,
    **detail: Any,
) -> None:
    """Audit one act: who (``actor``), what (``action``), on what (``target``), ``result``.

    ``detail`` holds extra fields (reasons, counts); secret-looking keys are masked.
    Context keys (``match_id``, ``player_id``, ``conn_id``...) go to the log context.
    """
    context = {k: detail.pop(k) for k in CONTEXT_KEYS if k in detail}
    act = {"actor": actor, "action": action, "target": target, "result": result, **detail}
    log_event(audit_log, level, event, "%s", msg, audit=act, **context)


# -- verification -------------------------------------------------------------------


@dataclass(slots=True)
class Verdict:
    """What :func:`verify_lines` found: ``problems`` as ``(line number, sentence)``."""

    lines: int = 0
    head: str = GENESIS
    problems: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True if the chain is intact."""
        return not self.problems


def verify_lines(lines: Iterable[str], expect_head: str | None = None) -> Verdict:
    """Check a sequence of audit lines; blank lines are ignored."""
    verdict = Verdict()
    prev, seq = GENESIS, 0
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text:
            continue
        verdict.lines += 1
        try:
            entry = json.loads(text)
            stored, entry_prev, entry_seq = entry["hash"], entry["prev"], entry["seq"]
        except (ValueError, KeyError, TypeError):
            verdict.problems.append((number, "not an audit line (JSON with hash, prev, seq)"))
            prev = hashlib.sha256(text.encode()).hexdigest()
            continue
        if line_hash(entry) != stored:
            verdict.problems.append((number, "edited: the line does not match its hash"))
        if entry_prev != prev:
            verdict.problems.append(
                (number, "broken link: the line before it was deleted, edited or reordered")
            )
        elif entry_seq != seq + 1:
            verdict.problems.append((number, f"seq {entry_seq} after {seq}"))
        prev, seq = str(stored), int(entry_seq) if isinstance(entry_seq, int) else seq + 1
    verdict.head = prev
    if expect_head is not None and expect_head != prev:
        verdict.problems.append((verdict.lines, "head differs from the expected one (truncated?)"))
    return verdict


def main(argv: list[str] | None = None) -> int:
    """``python -m server.audit verify FILE [--expect-head HASH]``."""
    p = argparse.ArgumentParser(prog="python -m server.audit", description="Audit trail tools.")
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify", help="check a file's hash chain")
    v.add_argument("file", type=Path)
    v.add_argument("--expect-head", help="the last hash you kept (detects a truncated tail)")
    args = p.parse_args(argv)
    try:
        with args.file.open(encoding="utf-8", errors="replace") as f:
            verdict = verify_lines(f, args.expect_head)
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for number, problem in verdict.problems:
        print(f"{args.file}:{number}: {problem}")
    state = "intact" if verdict.ok else f"BROKEN ({len(verdict.problems)} problems)"
    print(f"{args.file}: {verdict.lines} lines, {state}, head {verdict.head}")
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
