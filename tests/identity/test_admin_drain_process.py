"""POST /admin/drain stops a real ``python -m server`` process as SIGTERM does."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECRET = "process-admin-secret-0123456789abcdef"


def http(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_admin_drain_ends_the_process(tmp_path: Path) -> None:
    (tmp_path / "admin.key").write_text(SECRET)
    audit = tmp_path / "audit.jsonl"
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server",
            "--port",
            "0",
            "--log-format",
            "json",
            "--admin-token-file",
            str(tmp_path / "admin.key"),
            "--audit-file",
            str(audit),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        drain(proc)
    assert '"action":"drain"' in audit.read_text()


def drain(proc: subprocess.Popen[str]) -> None:
    """Read the port, POST /admin/drain, expect the process to exit 0."""
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"ws://127\.0\.0\.1:(\d+)/ws", line)
        assert match, line
        port = int(match.group(1))
        body = b'{"grace_s": 0}'
        answer = http(
            port,
            b"POST /admin/drain HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + SECRET.encode()
            + b"\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body,
        )
        assert answer.startswith(b"HTTP/1.1 202"), answer[:200]
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
