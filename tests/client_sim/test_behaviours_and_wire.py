"""Behaviour files, the numpy mirror and the bot transport's frame parser, without a server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgpack
import numpy as np
import pytest

from client_sim.behaviours import BehaviourError, Crowd, load_behaviour, registered
from client_sim.mirror import NetMirror
from client_sim.wire import WireProtocol


def crowd(n: int) -> Crowd:
    return Crowd(n, 20.0, np.random.default_rng(1), lambda which: np.full((len(which), 2), 1.0))


@pytest.mark.parametrize(
    "name", ["idle", "wander", "chase", "flood", "chase_tag", "shooter_aim", "rts_zone"]
)
def test_shipped_behaviour_files_load_and_write_sticks_in_range(name: str) -> None:
    """Every shipped behaviour loads and writes sticks in [-1, 1] for all bots at once."""
    behaviour = load_behaviour(name)
    c = crowd(50)
    for tick in range(40):
        c.tick = tick
        behaviour(c)
    assert np.all(np.abs(c.stick) <= 1.0 + 1e-9)
    if name == "idle":
        assert (c.sends == 0).all()
    elif name != "rts_zone":  # orders are re-sent now and then, not every tick
        assert (c.sends >= 1).all()
    assert name in registered()


def test_chase_steers_toward_the_nearest_entity() -> None:
    """With a target at (+1, +1), every bot points up-right once it has retargeted."""
    c = crowd(10)
    chase = load_behaviour("chase")
    for tick in range(int(chase.params["retarget_every_ticks"])):
        c.tick = tick
        chase(c)
    assert np.allclose(c.stick[:, 0], c.stick[:, 1])
    assert (c.stick[:, 0] > 0).all()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[behaviour]\nsystem = "nope"\n', "[behaviour].system: expected one of"),
        ('[behaviour]\nsystem = "wander"\n[params]\nspin = 1\n', "[params].spin: unknown"),
        ('[behaviour]\nsystem = "wander"\n[params]\nspeed = "fast"\n', "expected a number"),
        ('[behaviour]\nsystem = "wander"\ncolour = 1\n', "unknown key(s) ['colour']"),
        ("[behaviour\n", "not valid TOML"),
    ],
)
def test_broken_behaviour_file_is_refused_with_file_and_key(
    tmp_path: Path, text: str, needle: str
) -> None:
    """A broken behaviour file raises BehaviourError naming the file and what is wrong."""
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(BehaviourError) as err:
        load_behaviour(str(path))
    assert str(path) in str(err.value)
    assert needle in str(err.value)


def test_unknown_behaviour_name_lists_the_shipped_ones() -> None:
    """Asking for a behaviour that has no file names the ones that exist."""
    with pytest.raises(BehaviourError, match="wander"):
        load_behaviour("moonwalk")


def state(t: int, *, full: bool = False, **fields: np.ndarray) -> dict[str, object]:
    body: dict[str, object] = {"t": t, "f": full, "w": 2}
    for key in "ekpcdmql":
        arr = fields.get(key)
        body[key] = b"" if arr is None else arr.tobytes()
    return body


def test_mirror_applies_full_then_delta_frames_in_protocol_order() -> None:
    """Entered, stepped, moved and left entities end where the frames put them."""
    m = NetMirror(capacity=4, strict=True)
    ids = np.array([1, 2, 3], "<u2")
    packed = np.array([10 | 20 << 16, 30 | 40 << 16, 50 | 60 << 16], "<u4")
    m.apply(state(1, full=True, e=ids, k=np.array([0, 0, 1], "u1"), p=packed))
    m.apply(
        state(
            2,
            e=np.array([9], "<u2"),
            k=np.array([1], "u1"),
            p=np.array([7 | 8 << 16], "<u4"),
            c=np.array([2], "<u2"),
            d=np.array([1, 1], "i1"),
            m=np.array([3], "<u2"),
            q=np.array([500 | 600 << 16], "<u4"),
            l=np.array([1], "<u2"),
        )
    )
    assert m.tick == 2
    assert m.entity_count() == 3
    assert m.position_steps(1) is None
    assert m.position_steps(2) == (31, 41)
    assert m.position_steps(3) == (500, 600)
    assert m.position_steps(9) == (7, 8)
    with pytest.raises(KeyError):
        m.apply(state(3, c=np.array([1], "<u2"), d=np.array([0, 0], "i1")))


async def test_wire_parser_reassembles_frames_split_anywhere() -> None:
    """Messages fed one byte at a time, or several per read, come out whole and in order."""
    got: list[bytes] = []
    proto = WireProtocol(got.append)
    proto.open = True
    messages = [msgpack.packb([1, 65, {"n": i, "pad": b"x" * (i * 97)}]) for i in range(8)]
    stream = b""
    for m in messages:
        n = len(m)
        head = bytes((0x82, n)) if n < 126 else bytes((0x82, 126)) + n.to_bytes(2, "big")
        stream += head + m
    for i in range(len(stream)):
        proto.data_received(stream[i : i + 1])
    proto.data_received(stream)
    assert got == messages + messages
    await asyncio.sleep(0)
