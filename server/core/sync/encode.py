"""The ``state`` frame's bytes: per-seat rows joined with pre-encoded msgpack pieces.

A frame is ``[1, 65, {t, f, w, e, k, p, c, d, m, q, l, ...tail}]`` (docs/protocol.md
STATE). Its rows come in :class:`Part` s, each grouped by seat with run bounds; a seat's
value of a key is the concatenation of that key's runs over the parts (the per-pair
part of a seat and the shared runs of the cells it covers, say), so no sort is needed
to merge them. Each part's columns are turned into bytes once per build, then every
seat's frame is slices of those buffers: no per-seat numpy call, no per-entity Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from server.core.sync.msgbytes import bin_header, uint

STATE_MESSAGE_TYPE = 65
PROTOCOL_VERSION = 1
_BIN8 = [bytes((0xC4, n)) for n in range(256)]
"""Pre-built ``bin 8`` headers: the common case costs one list lookup per key."""
_KEYS = (b"\xa1e", b"\xa1k", b"\xa1p", b"\xa1c", b"\xa1d", b"\xa1m", b"\xa1q", b"\xa1l")
U32 = NDArray[np.uint32]
I64 = NDArray[np.int64]
_NO_U32 = np.zeros(0, dtype=np.uint32)


@dataclass(slots=True)
class Part:
    """Rows of some seats' frames, each key's rows grouped by seat.

    ``*_b`` are run bounds (length seats + 1, counts in rows): seat ``i``'s entered rows
    are ``e_ids[e_b[i]:e_b[i+1]]``. Steps are int8 ``(dx, dy)`` pairs in quantization
    steps; positions packed ``qx | qy << 16``.
    """

    e_ids: U32
    e_kind: NDArray[np.uint8]
    e_pos: U32
    e_b: I64
    c_ids: U32
    c_step: NDArray[np.int8]
    c_b: I64
    m_ids: U32
    m_pos: U32
    m_b: I64
    l_ids: U32
    l_b: I64


def empty_bounds(n: int) -> I64:
    """Bounds of ``n`` seats with no rows."""
    return np.zeros(n + 1, dtype=np.int64)


def changes_only(
    c_ids: U32, c_step: NDArray[np.int8], c_b: I64, m_ids: U32, m_pos: U32, m_b: I64
) -> Part:
    """A part with changed rows only (the shared runs of deep cells)."""
    n = len(c_b) - 1
    z = empty_bounds(n)
    return Part(
        _NO_U32, np.zeros(0, np.uint8), _NO_U32, z, c_ids, c_step, c_b, m_ids, m_pos, m_b,
        _NO_U32, z,
    )  # fmt: skip


def bounds(group: I64, n: int) -> I64:
    """Run starts of each group index ``0..n-1`` in ``group`` (ascending) plus the total."""
    counts = np.bincount(group, minlength=n)
    result = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=result[1:])
    return result


def head(keys: int) -> bytes:
    """``[1, 65, {`` with a map of ``keys`` entries, then the ``t`` key.

    Any number of keys may follow ``l`` (events, replicated fields, acks): past 15 the
    map header is ``map 16``.
    """
    m = bytes((0x80 | keys,)) if keys < 16 else b"\xde" + keys.to_bytes(2, "big")
    return bytes((0x93, PROTOCOL_VERSION, STATE_MESSAGE_TYPE)) + m + b"\xa1t"


class _Heads:
    """``heads[full][extra keys]``: everything before the ``e`` key's value, built on use."""

    __slots__ = ("_body", "_cache", "_w")

    def __init__(self, tick: int, width: int) -> None:
        self._body = uint(tick) + b"\xa1f"
        self._w = b"\xa1w" + uint(width) + b"\xa1e"
        self._cache: dict[tuple[bool, int], bytes] = {}

    def get(self, full: bool, k: int) -> bytes:
        got = self._cache.get((full, k))
        if got is None:
            flag = b"\xc3" if full else b"\xc2"
            got = self._cache[(full, k)] = head(11 + k) + self._body + flag + self._w
        return got


def frame_heads(tick: int, width: int) -> _Heads:
    """The frame heads of one build (``.get(full, extra_keys)``)."""
    return _Heads(tick, width)


def _merge(cols: Sequence[tuple[list[NDArray[Any]], I64]]) -> tuple[list[NDArray[Any]], I64]:
    """Concatenate per-seat runs of several parts: seat by seat, parts in order."""
    if len(cols) == 1:
        return cols[0]
    b_all = np.sum([b for _, b in cols], axis=0)
    total = int(b_all[-1])
    dest_starts = b_all[:-1].copy()
    merged = [np.empty((total, *a.shape[1:]), dtype=a.dtype) for a in cols[0][0]]
    flat = [m.view(_flat_dtype(m)).reshape(-1) for m in merged]
    for arrays, b in cols:
        cnt = np.diff(b)
        k = int(b[-1])
        if k:
            dest = np.repeat(dest_starts - b[:-1], cnt)
            dest += np.arange(k, dtype=np.int64)
            for out, a in zip(flat, arrays, strict=True):
                out[dest] = a.view(out.dtype).reshape(-1)
        dest_starts += cnt
    return merged, b_all


def _flat_dtype(a: NDArray[Any]) -> np.dtype[Any]:
    """One scalar per row: ``(n, 2)`` int8 steps move as one uint16."""
    return np.dtype("<u2") if a.ndim == 2 else a.dtype


def merge(parts: Sequence[Part]) -> Part:
    """One part whose seat ``i`` holds every part's rows of seat ``i`` (in part order)."""
    if len(parts) == 1:
        return parts[0]
    (ei, ek, ep), eb = _merge([([p.e_ids, p.e_kind, p.e_pos], p.e_b) for p in parts])
    (ci, cs), cb = _merge([([p.c_ids, p.c_step], p.c_b) for p in parts])
    (mi, mp), mb = _merge([([p.m_ids, p.m_pos], p.m_b) for p in parts])
    (li,), lb = _merge([([p.l_ids], p.l_b) for p in parts])
    return Part(ei, ek, ep, eb, ci, cs, cb, mi, mp, mb, li, lb)


def encode(
    tick: int,
    width: int,
    parts: Sequence[Part],
    full: Sequence[bool],
    nk: Sequence[int],
    tail: Sequence[bytes],
) -> list[bytes]:
    """One frame per seat of ``parts`` (all parts cover the same seats, in order)."""
    n = len(full)
    p = merge(parts)
    hs = frame_heads(tick, width)
    top = max(nk, default=0) + 1
    heads = [[hs.get(False, k) for k in range(top)], [hs.get(True, k) for k in range(top)]]
    id_dtype = "<u2" if width == 2 else "<u4"
    e_ids = p.e_ids.astype(id_dtype).tobytes()
    e_kind = p.e_kind.tobytes()
    e_pos = p.e_pos.astype("<u4").tobytes()
    c_ids = p.c_ids.astype(id_dtype).tobytes()
    c_step = p.c_step.tobytes()
    m_ids = p.m_ids.astype(id_dtype).tobytes()
    m_pos = p.m_pos.astype("<u4").tobytes()
    l_ids = p.l_ids.astype(id_dtype).tobytes()
    # Byte offsets per seat, computed in whole arrays before the per-seat loop.
    e_id_off = (p.e_b * width).tolist()
    e_pos_off = (p.e_b * 4).tolist()
    c_id_off = (p.c_b * width).tolist()
    c_step_off = (p.c_b * 2).tolist()
    m_id_off = (p.m_b * width).tolist()
    m_pos_off = (p.m_b * 4).tolist()
    l_id_off = (p.l_b * width).tolist()
    ebl = p.e_b.tolist()
    k_k, k_p, k_c, k_d, k_m, k_q, k_l = _KEYS[1:]
    out: list[bytes] = []
    bin8 = _BIN8
    big = bin_header
    for i in range(n):
        a, b = e_id_off[i], e_id_off[i + 1]
        ka, kb = ebl[i], ebl[i + 1]
        pa, pb = e_pos_off[i], e_pos_off[i + 1]
        c, d = c_id_off[i], c_id_off[i + 1]
        sa, sb = c_step_off[i], c_step_off[i + 1]
        ma, mz = m_id_off[i], m_id_off[i + 1]
        qa, qb = m_pos_off[i], m_pos_off[i + 1]
        e, f = l_id_off[i], l_id_off[i + 1]
        out.append(
            b"".join(
                (
                    heads[full[i]][nk[i]],
                    bin8[b - a] if b - a < 256 else big(b - a),
                    e_ids[a:b],
                    k_k,
                    bin8[kb - ka] if kb - ka < 256 else big(kb - ka),
                    e_kind[ka:kb],
                    k_p,
                    bin8[pb - pa] if pb - pa < 256 else big(pb - pa),
                    e_pos[pa:pb],
                    k_c,
                    bin8[d - c] if d - c < 256 else big(d - c),
                    c_ids[c:d],
                    k_d,
                    bin8[sb - sa] if sb - sa < 256 else big(sb - sa),
                    c_step[sa:sb],
                    k_m,
                    bin8[mz - ma] if mz - ma < 256 else big(mz - ma),
                    m_ids[ma:mz],
                    k_q,
                    bin8[qb - qa] if qb - qa < 256 else big(qb - qa),
                    m_pos[qa:qb],
                    k_l,
                    bin8[f - e] if f - e < 256 else big(f - e),
                    l_ids[e:f],
                    tail[i],
                )
            )
        )
    return out


def add_keys(
    tails: Sequence[tuple[int, bytes]] | None, extra: Sequence[tuple[int, bytes]]
) -> list[tuple[int, bytes]]:
    """Per seat, ``extra`` keys appended after ``tails`` (the per-client trailing keys).

    The one hook for keys that only some clients' frames carry (events ``v``/``o``,
    input acks ``a``/``at``): each is ``(key count, encoded key/value pairs)``; a seat
    with any such key gets its own frame, the others keep the shared bytes.
    """
    if tails is None:
        return list(extra)
    return [(k + k2, b + b2) for (k, b), (k2, b2) in zip(tails, extra, strict=True)]


def share(
    body_frame: bytes, tick: int, width: int, nk: Sequence[int], tail: Sequence[bytes]
) -> list[bytes]:
    """Seats with the same rows: ``body_frame`` (no tail, not full) reused, each own tail.

    A seat without a tail gets the very same bytes object (encode once, send to many).
    """
    heads = frame_heads(tick, width)
    rest = body_frame[len(heads.get(False, 0)) :]
    return [
        body_frame if k == 0 else heads.get(False, k) + rest + t
        for k, t in zip(nk, tail, strict=True)
    ]
