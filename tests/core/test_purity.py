"""The pure layers stay pure: importing them loads no event loop, socket or metrics library."""

from __future__ import annotations

import subprocess
import sys

IO_MODULES = ("asyncio", "websockets", "uvloop", "prometheus_client")


def loaded_io_modules(code: str) -> str:
    """Run ``code`` in a fresh interpreter; the I/O modules it left loaded, comma-separated."""
    probe = f"{code}\nimport sys\nprint(','.join(m for m in {IO_MODULES!r} if m in sys.modules))\n"
    return subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_core_imports_no_io_libraries() -> None:
    """Importing and stepping server.core never loads asyncio, websockets, uvloop or prometheus."""
    code = (
        "import server.core.simulation, server.core.spatial, server.core.clock\n"
        "import server.core.determinism, server.gamedef\n"
        "from server.core.simulation import Simulation\n"
        "from server.gamedef import load_definition\n"
        "sim = Simulation(load_definition('data/games/arena.toml'))\n"
        "sim.spawn_initial(); sim.step()\n"
    )
    out = loaded_io_modules(code)
    assert out == "", f"server.core loaded: {out}"


def test_matchmaking_imports_no_io_libraries() -> None:
    """server.matchmaking (labels, reservations, the matchmaker) is pure as well."""
    code = (
        "from server.matchmaking import Matchmaker, ReservationBook, parse_ticket\n"
        "mm = Matchmaker(); mm.add(parse_ticket({}, 0.0, 60.0, 0.0, 'arena')); mm.run(1.0)\n"
        "ReservationBook().reserve('m1', 0.0)\n"
    )
    out = loaded_io_modules(code)
    assert out == "", f"server.matchmaking loaded: {out}"
