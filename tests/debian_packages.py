"""Debian binaries the tests run for real (redis-server, nginx, openssl), installed on demand."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest


def _find(binary: str) -> str | None:
    sbin = Path("/usr/sbin") / binary  # nginx lives here, off a non-root PATH
    return shutil.which(binary) or (str(sbin) if sbin.exists() else None)


def ensure_binary(binary: str, package: str) -> str:
    """The path of ``binary``; apt-get installs ``package`` when it is missing (root only,
    else the test fails with the command to run). A service the package starts is stopped:
    the tests run their own instances on free ports."""
    found = _find(binary)
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail(f"{binary} is missing: apt-get install -y {package}")
    # Test workers run side by side (make test): one apt-get at a time, and a worker that
    # waited finds the binary its neighbour installed.
    with open("/tmp/tickwire-tests-apt.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _find(binary) or _install(binary, package)


def _install(binary: str, package: str) -> str:
    """apt-get install ``package`` (an update first if the install fails), then stop the
    service it starts; the path of ``binary`` or the test fails with apt-get's error."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", package]
    if subprocess.run(cmd, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=False)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.fail(f"apt-get install {package} failed:\n{done.stderr[-2000:]}")
    subprocess.run(["service", package, "stop"], capture_output=True, check=False)
    found = _find(binary)
    if not found:
        pytest.fail(f"{binary} still missing after apt-get install {package}")
    return found
