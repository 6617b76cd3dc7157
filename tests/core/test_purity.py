"""The core stays pure: importing it loads no event loop, socket or metrics library."""

from __future__ import annotations

import subprocess
import sys


def test_core_imports_no_io_libraries() -> None:
    """Importing and stepping server.core never loads asyncio, websockets, uvloop or prometheus."""
    code = (
        "import sys\n"
        "import server.core.simulation, server.core.spatial, server.core.clock\n"
        "import server.core.determinism, server.gamedef\n"
        "from server.core.simulation import Simulation\n"
        "from server.gamedef import load_definition\n"
        "sim = Simulation(load_definition('data/games/arena.toml'))\n"
        "sim.spawn_initial(); sim.step()\n"
        "bad = [m for m in ('asyncio', 'websockets', 'uvloop', 'prometheus_client')"
        " if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"server.core loaded: {out}"
