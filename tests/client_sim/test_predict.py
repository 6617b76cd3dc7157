"""Client prediction, reconciliation and interpolation against the server's own movement.

The server side here is the real core (``Simulation`` stepping the shooter or the arena)
fed the same inputs as the client; a delayed link is modelled by applying input ``k`` at
tick ``k + delay`` and delivering frames ``delay`` ticks late.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from client_sim.interpolate import Interpolator
from client_sim.mirror import NetMirror
from client_sim.predict import SEQ_MOD, OwnMover, Predictor, seq_newer, seq_next
from server.core.frame import InputBatch
from server.core.simulation import Simulation
from server.gamedef import GameDefinition, load_definition

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shooter() -> GameDefinition:
    return load_definition(ROOT / "data" / "games" / "shooter.toml")


def _body(rng: np.random.Generator, hold: int, prev: dict[str, float]) -> dict[str, float]:
    """A stick that changes every ``hold`` ticks on average, sometimes full, sometimes 0."""
    if prev and rng.random() > 1.0 / hold:
        return prev
    x, y = (float(v) for v in np.round(rng.uniform(-1, 1, 2), 3))
    if rng.random() < 0.2:
        x, y = float(np.sign(x)), 0.0
    return {"tick": 0, "x": x, "y": y, "aim": 0.0, "buttons": 0}


class ServerSide:
    """The shooter's core with one player: inputs by stored values, positions out."""

    def __init__(self, definition: GameDefinition) -> None:
        self.sim = Simulation(definition)
        self.eid = self.sim.queue_player()
        self.sim.step()  # the health system spawns the player at a random place
        self.names = [f.name for f in definition.inputs]
        self.dtypes = [f.dtype for f in definition.inputs]

    def step(self, values: tuple[int, ...] | None) -> tuple[int, int]:
        batch = None
        if values is not None:
            batch = InputBatch.of_columns(
                np.array([self.eid], np.int64),
                {
                    n: np.array([v], dtype=d)
                    for n, v, d in zip(self.names, values, self.dtypes, strict=True)
                },
            )
        self.sim.step(batch)
        return self.position()

    def position(self) -> tuple[int, int]:
        world = self.sim.world
        slot = world.slot_of(self.eid)
        return int(world.col("position.x")[slot]), int(world.col("position.y")[slot])

    def place(self, x: int, y: int) -> None:
        world = self.sim.world
        slot = world.slot_of(self.eid)
        world.col("position.x")[slot] = x
        world.col("position.y")[slot] = y


def test_own_mover_equals_the_server_tick_by_tick_including_the_edges(
    shooter: GameDefinition,
) -> None:
    """600 ticks of changing sticks, started near a corner so it bounces: same subunits."""
    server = ServerSide(shooter)
    server.place(3 * 256, 298 * 256)
    mover = OwnMover(shooter)
    mover.set_state(server.position(), (0, 0))
    rng = np.random.default_rng(5)
    body: dict[str, float] = {}
    edges = 0
    for _ in range(600):
        body = _body(rng, 8, body)
        values = mover.quantize(body)
        want = server.step(values)
        assert mover.step(values) == want
        edges += want[0] < 256 or want[1] > 299 * 256 or want[0] > 299 * 256 or want[1] < 256
    assert edges > 0, "the run never reached an edge: the bounce went untested"


def test_quantize_is_the_servers_decoder(shooter: GameDefinition) -> None:
    """Sticks round half up, angles to binary angles; extra keys (seq...) are ignored."""
    mover = OwnMover(shooter)
    body = {"tick": 1, "x": 0.5, "y": -0.5, "aim": math.pi / 2, "buttons": 1, "seq": 7}
    assert mover.quantize(body) == (64, -63, 16384, 1)


def test_seq_compares_serially_across_the_wrap() -> None:
    assert seq_next(SEQ_MOD - 1) == 0
    assert seq_newer(0, SEQ_MOD - 1)
    assert seq_newer(5, 3)
    assert not seq_newer(3, 3)
    assert not seq_newer(3, 5)
    assert not seq_newer(2**31, 0), "a jump of exactly 2**31 is not newer"
    assert seq_newer(2**31 - 1, 0)


def play(
    definition: GameDefinition,
    delay: int,
    late: set[int],
    ticks: int = 300,
    log: list[list[int]] | None = None,
) -> tuple[Predictor, list[float]]:
    """Client and server over a link of ``delay`` ticks each way.

    Input ``k`` is sent at client tick ``k`` and applied by the server at tick
    ``k + delay`` (``late`` inputs one tick later: the server repeats the previous one,
    then skips to the newest); frame ``t`` reaches the client at tick ``t + delay``.
    ``log`` gets what the client saw and did, for the JavaScript twin:
    ``[0, qx, qy, a, t, at, error]`` per frame and ``[1, seq, stick x, stick y]`` per input.
    """
    server = ServerSide(definition)
    step_units = dict(definition.sync.quantize)["position.x"]
    scale = definition.world.subunits_per_unit
    predictor = Predictor(definition, step_units)
    rng = np.random.default_rng(11)
    body: dict[str, float] = {}
    arrive: dict[int, list[tuple[int, tuple[int, ...]]]] = {}
    frames: dict[int, tuple[tuple[int, int], int | None, int, int | None]] = {}
    applied: int | None = None
    applied_at: int | None = None
    values_now: tuple[int, ...] | None = None
    errors: list[float] = []
    for k in range(ticks):
        # The client: a frame arrives, then it sends (and predicts) this tick's input.
        frame = frames.pop(k - delay, None)
        if frame is not None:
            pos, a, t, at = frame
            steps = (round(pos[0] / (scale * step_units)), round(pos[1] / (scale * step_units)))
            err = predictor.reconcile(steps, a, t, at)
            if log is not None:
                log.append([0, *steps, -1 if a is None else a, t, -1 if at is None else at, err])
            if err is not None:
                errors.append(err)
        body = _body(rng, 6, body)
        seq = predictor.next_seq()
        values = predictor.mover.quantize(body)
        predictor.input(seq, values)
        if log is not None:
            log.append([1, seq, values[0], values[1]])
        arrive.setdefault(k + delay + (1 if seq in late else 0), []).append((seq, values))
        # The server: the newest input that arrived is applied at this tick.
        came = arrive.pop(k, [])
        if came:
            applied, values_now = came[-1]
            applied_at = server.sim.tick + 1
        pos = server.step(values_now)
        frames[k] = (pos, applied, server.sim.tick, applied_at)
    return predictor, errors


def test_reconciliation_is_exact_when_every_input_is_on_time(shooter: GameDefinition) -> None:
    """At 2 x 3 ticks of delay the reconciled prediction is where the server puts it."""
    predictor, errors = play(shooter, delay=3, late=set())
    assert len(errors) > 250
    step = 1 / 16
    # The client knows its position to a step (the wire's resolution): no error beyond
    # one step on each axis, and most frames exactly right.
    assert max(errors) <= math.hypot(step, step) + 1e-9
    assert sum(e == 0.0 for e in errors) > 0.6 * len(errors)
    assert predictor.stats.corrections == 0
    assert len(predictor.pending) == 6  # the inputs of one round trip (2 x 3 ticks)


def test_a_late_input_is_a_measured_error_and_a_correction(shooter: GameDefinition) -> None:
    """Inputs that reach the server a tick late move it otherwise: errors, corrections."""
    late = set(range(20, 300, 25))
    predictor, errors = play(shooter, delay=3, late=late)
    speed = 50.0 / shooter.tick_rate_hz
    assert predictor.stats.corrections >= 1
    assert max(errors) > 0.1  # more than a step: a real misprediction
    assert max(errors) <= 2.5 * speed, "one late input costs at most about a tick's motion"
    assert sum(e > 0.1 for e in errors) <= 2 * len(late) + 2


def test_interpolation_trails_the_server_and_blends_between_frames() -> None:
    """Frames every tick, 100 ms delay at 20 Hz: render tick = server tick - 2, entities
    drawn between the frames around it; events come out once their tick is reached."""
    mirror = NetMirror()
    interp = Interpolator(20, 100.0, 1.0)
    for t in range(1, 11):
        mirror.pos[5] = (t * 10) | (3 << 16)
        mirror.known[5] = True
        mirror.tick = t
        mirror.events = [("hit", {"target": np.array([5])})] if t == 6 else []
        interp.push(mirror, arrival_s=t * 0.05 + 0.2)
    now = 10.5 * 0.05 + 0.2
    assert interp.server_tick(now) == pytest.approx(10.5)
    r = interp.render_tick(now)
    assert r == pytest.approx(8.5)
    assert interp.view(now) == (8, pytest.approx(0.5))
    ids, pos = interp.positions(r)
    assert ids.tolist() == [5]
    assert pos[0].tolist() == pytest.approx([85.0, 3.0])
    assert interp.due_events(5.9) == []
    due = interp.due_events(r)
    assert [(t, name) for t, name, _ in due] == [(6, "hit")]
    assert interp.due_events(r) == []


def test_a_dropped_input_is_predicted_out_of_the_chain(shooter: GameDefinition) -> None:
    """After ERROR INPUT_SUPERSEDED for one pending input the prediction is the chain of
    the others, as the server applies them."""
    predictor = Predictor(shooter, 1 / 16)
    predictor.reconcile((1600, 1600), None, 10, None)  # the base: (100, 100) units
    sticks = [(127, 0), (0, 127), (-127, 0), (0, -60)]
    for k, (x, y) in enumerate(sticks):
        predictor.input(k, (x, y, 0, 0))
    assert predictor.drop(1)
    assert not predictor.drop(1), "not pending any more"
    mover = OwnMover(shooter)
    mover.set_state((1600 * 16, 1600 * 16), (0, 0))
    want = [mover.step((x, y, 0, 0)) for x, y in (sticks[0], *sticks[2:])]
    assert [e.predicted for e in predictor.pending] == want
    assert predictor.mover.position == want[-1]
