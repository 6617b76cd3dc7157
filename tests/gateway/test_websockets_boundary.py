"""Only the gateway touches websockets: hosting, matches, the wire codec and ops never import it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SERVER = Path(__file__).resolve().parents[2] / "server"

CLIENT_SIDE = {"testing.py"}
"""server/testing.py is the test *client* (it connects with websockets' client); it is
not part of the server."""


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports (at any depth in the file)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_gateway_sources_import_websockets() -> None:
    """No module of server/ outside server/gateway/ (and the test client) imports websockets."""
    offenders = [
        str(p.relative_to(SERVER))
        for p in sorted(SERVER.rglob("*.py"))
        if p.relative_to(SERVER).parts[0] != "gateway"
        and str(p.relative_to(SERVER)) not in CLIENT_SIDE
        and "websockets" in imported_modules(p)
    ]
    assert offenders == [], f"import websockets outside server/gateway: {offenders}"
    assert "websockets" in imported_modules(SERVER / "gateway" / "server.py")


def test_hosting_loads_without_websockets() -> None:
    """Importing hosting, matches, the codec and the observer never loads websockets."""
    code = (
        "import sys\n"
        "import server.hosting.host, server.hosting.runner, server.hosting.manager\n"
        "import server.match.match, server.net.codec, server.net.session\n"
        "import server.ops.observer, server.ops.metrics\n"
        "print('websockets' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "False"
