"""The small HTTP routes served on the websocket port: health, readiness, metrics, pages."""

from __future__ import annotations

import json
import mimetypes
from http import HTTPStatus
from pathlib import Path
from typing import Any

from websockets.datastructures import Headers
from websockets.http11 import Response

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


def response(status: int, body: bytes, content_type: str) -> Response:
    """An HTTP response with a body and the usual headers."""
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("Connection", "close"),
        ]
    )
    return Response(status, HTTPStatus(status).phrase, headers, body)


def text(status: int, body: str) -> Response:
    """A plain-text response."""
    return response(status, body.encode(), "text/plain; charset=utf-8")


def json_response(status: int, data: Any) -> Response:
    """A JSON response."""
    return response(status, json.dumps(data, indent=1).encode(), "application/json")


def static_file(root: Path, path: str) -> Response | None:
    """Serve ``path`` from ``root`` (None if it is not a file under root)."""
    rel = path.split("?", 1)[0].lstrip("/") or "index.html"
    target = (root / rel).resolve()
    if root.resolve() not in target.parents and target != root.resolve():
        return None
    if not target.is_file():
        return None
    ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if ctype.startswith("text/") or ctype.endswith("javascript"):
        ctype += "; charset=utf-8"
    return response(200, target.read_bytes(), ctype)
