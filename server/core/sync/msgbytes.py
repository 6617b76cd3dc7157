"""msgpack bytes built by hand for the state frame (the hot path joins pre-built pieces).

Only the few forms the frames use: non-negative ints, ``bin`` and array headers.
Also the ``r`` key (replicated fields) of :mod:`server.core.sync.state` frames, which
is assembled per seat from columns built once per build.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

_K_R = b"\xa1r"


def bin_header(n: int) -> bytes:
    """The msgpack ``bin`` header for a payload of ``n`` bytes."""
    if n < 256:
        return bytes((0xC4, n))
    if n < 65536:
        return b"\xc5" + n.to_bytes(2, "big")
    return b"\xc6" + n.to_bytes(4, "big")


def uint(v: int) -> bytes:
    """msgpack encoding of a non-negative int."""
    if v < 128:
        return bytes((v,))
    if v < 65536:
        return b"\xcd" + v.to_bytes(2, "big")
    if v < 2**32:
        return b"\xce" + v.to_bytes(4, "big")
    return b"\xcf" + v.to_bytes(8, "big")


def array_header(n: int) -> bytes:
    """The msgpack array header for ``n`` items."""
    if n < 16:
        return bytes((0x90 | n,))
    if n < 65536:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


FieldRows = tuple[NDArray[np.uint32], NDArray[Any], NDArray[np.int64]]
"""One replicated field's rows of a build: net ids, wire values, per-seat run bounds."""


def frame_tails(
    r_cols: list[FieldRows] | None,
    tails: Sequence[tuple[int, bytes]] | None,
    n_seats: int,
    width: int,
) -> tuple[list[int], list[bytes]]:
    """Per seat: how many keys follow ``l``, and their bytes (``r``, then ``tails``)."""
    nk = [0] * n_seats
    out = [b""] * n_seats
    if r_cols is not None:
        id_dtype = "<u2" if width == 2 else "<u4"
        cols = [
            (
                ids.astype(id_dtype).tobytes(),
                vals.tobytes(),
                (bounds * width).tolist(),
                (bounds * vals.dtype.itemsize).tolist(),
            )
            for ids, vals, bounds in r_cols
        ]
        for i in range(n_seats):
            parts: list[bytes] = []
            for fi, (id_b, val_b, id_off, val_off) in enumerate(cols):
                a, b = id_off[i], id_off[i + 1]
                if a == b:
                    continue
                va, vb = val_off[i], val_off[i + 1]
                parts.append(
                    b"".join(
                        (
                            b"\x93",
                            uint(fi),
                            bin_header(b - a),
                            id_b[a:b],
                            bin_header(vb - va),
                            val_b[va:vb],
                        )
                    )
                )
            if parts:
                nk[i] = 1
                out[i] = _K_R + array_header(len(parts)) + b"".join(parts)
    if tails is not None:
        for i, (k, extra) in enumerate(tails):
            if k:
                nk[i] += k
                out[i] += extra
    return nk, out
