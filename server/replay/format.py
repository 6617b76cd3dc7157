"""The recording file format, version 1 (docs/replays.md is the reference).

A file is the 8-byte magic ``TWREPLAY`` followed by records. A record is::

    uint32 LE  length of the payload
    uint32 LE  CRC-32 (zlib) of the payload
    payload    msgpack array [kind: str, body: map]

The first record is ``header``; then, in the order things happened, ``join``,
``leave``, ``tick`` (state sync: the inputs one tick applied) or ``frame`` (lockstep: the
exact ``LOCKSTEP_FRAME`` bytes), ``checkpoint`` every N seconds, and finally ``end`` and
``index``. A file cut anywhere (a crash) is read up to its last whole record; a record
whose CRC or msgpack is wrong, or a wrong magic or version, is a :class:`ReplayError`
naming the file and the record.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import msgpack

MAGIC = b"TWREPLAY"
FORMAT_VERSION = 1
_FRAME = struct.Struct("<II")
MAX_RECORD_BYTES = 64 << 20
"""A length field above this is corruption, not a record (checkpoints are far smaller)."""

KINDS = frozenset({"header", "join", "leave", "tick", "frame", "checkpoint", "end", "index"})


class ReplayError(Exception):
    """A recording that cannot be used: the message names the file and the record."""


@dataclass(frozen=True, slots=True)
class Record:
    """One decoded record: its kind, body, number (0 = header) and byte offset."""

    kind: str
    body: dict[str, Any]
    number: int
    offset: int


def encode_record(kind: str, body: dict[str, Any]) -> bytes:
    """The framed bytes of one record."""
    payload: bytes = msgpack.packb([kind, body], use_bin_type=True)
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def read_records(path: Path, fh: BinaryIO | None = None) -> Iterator[Record]:
    """Every whole record of ``path`` in order; a truncated tail is silently dropped.

    Raises :class:`ReplayError` for a wrong magic, a bad CRC or undecodable msgpack, an
    unknown record kind, or a first record that is not a version-1 header.
    """
    own = fh is None
    if fh is None:
        try:
            fh = path.open("rb")
        except OSError as exc:
            raise ReplayError(f"{path}: cannot open: {exc.strerror or exc}") from None
    try:
        magic = fh.read(len(MAGIC))
        if magic != MAGIC:
            raise ReplayError(f"{path}: not a Tickwire recording (magic {magic[:8]!r})")
        offset = len(MAGIC)
        number = 0
        while True:
            head = fh.read(_FRAME.size)
            if len(head) < _FRAME.size:
                return  # end of file, or cut inside a record's frame
            length, crc = _FRAME.unpack(head)
            if length > MAX_RECORD_BYTES:
                raise ReplayError(f"{path}: record {number} at byte {offset}: length {length}")
            payload = fh.read(length)
            if len(payload) < length:
                return  # cut inside the last record: replay up to the one before
            where = f"{path}: record {number} at byte {offset}"
            if zlib.crc32(payload) != crc:
                raise ReplayError(f"{where}: CRC mismatch (corrupted)")
            try:
                kind, body = msgpack.unpackb(payload, raw=False)
            except (ValueError, TypeError, msgpack.ExtraData) as exc:
                raise ReplayError(f"{where}: not a msgpack [kind, body] ({exc})") from None
            if kind not in KINDS or not isinstance(body, dict):
                raise ReplayError(f"{where}: unknown record kind {kind!r}")
            if number == 0:
                if kind != "header":
                    raise ReplayError(f"{where}: the first record must be a header, got {kind}")
                version = body.get("format_version")
                if version != FORMAT_VERSION:
                    raise ReplayError(
                        f"{where}: format version {version!r}, this tool reads {FORMAT_VERSION}"
                    )
            yield Record(kind, body, number, offset)
            offset += _FRAME.size + length
            number += 1
    finally:
        if own:
            fh.close()
