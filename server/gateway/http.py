"""The small HTTP routes served on the websocket port: health, readiness, metrics, pages."""

from __future__ import annotations

import html
import json
import mimetypes
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

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


def wants_json(path: str, accept: str) -> bool:
    """Whether a request asks for JSON: ``?format=json``, or an Accept without HTML in it.

    Browsers send ``Accept: text/html,...``; curl, scripts and tests send ``*/*`` or
    ``application/json`` and keep getting JSON.
    """
    query = parse_qs(urlsplit(path).query)
    if "format" in query:
        return query["format"][-1] == "json"
    return "text/html" not in accept.lower()


def matches_page(matches: list[dict[str, Any]]) -> Response:
    """The match list as a small HTML page, each match with a link to watch it."""
    rows = []
    for m in matches:
        cells = [
            m["match_id"],
            m["game"],
            m["mode"],
            f"{m['players']} / {m['capacity']}",
            m["spectators"],
            m["entities"],
            m["state"],
            f"{m['tick_rate_hz']} Hz",
            m["tick"],
        ]
        tds = "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
        # HELLO does not name a match: a spectator watches the fullest live match.
        rows.append(f'<tr>{tds}<td><a href="/?spectate=1">watch</a></td></tr>')
    body = _MATCHES_HTML.format(
        rows="\n".join(rows) or '<tr><td colspan="10">no live matches</td></tr>'
    )
    return response(200, body.encode(), "text/html; charset=utf-8")


_MATCHES_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tickwire matches</title>
<link rel="stylesheet" href="/style.css"></head>
<body class="list"><h1>Tickwire matches</h1>
<p><a href="/">play</a> &middot; <a href="/?spectate=1">spectate</a> &middot;
<a href="/matches?format=json">JSON</a></p>
<table><thead><tr><th>match</th><th>game</th><th>mode</th><th>players</th>
<th>spectators</th><th>entities</th><th>state</th><th>tick rate</th><th>tick</th><th></th>
</tr></thead>
<tbody>
{rows}
</tbody></table></body></html>
"""

_CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}


def static_file(root: Path, path: str) -> Response | None:
    """Serve ``path`` from ``root`` (None if it is not a file under root)."""
    rel = path.split("?", 1)[0].lstrip("/") or "index.html"
    target = (root / rel).resolve()
    if root.resolve() not in target.parents and target != root.resolve():
        return None
    if not target.is_file():
        return None
    ctype = _CONTENT_TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0]
    ctype = ctype or "application/octet-stream"
    if ctype.startswith("text/") or ctype.endswith("javascript"):
        ctype += "; charset=utf-8"
    return response(200, target.read_bytes(), ctype)
