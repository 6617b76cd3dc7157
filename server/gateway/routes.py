"""The HTTP routes served on the websocket port, as a table of (method, path) -> handler.

A handler takes the request and returns a response. Paths are matched exactly on the
part before ``?``; a path with no route falls through to the static files (the browser
page), then 404. New endpoints (``/matchmake/*``, ``/admin/*``, ``/replays``) are added
with :meth:`Routes.add` (or a prefix with :meth:`Routes.add_prefix`).

Any method reaches the table; a request body (``Content-Length`` up to 64 KiB, which the
websockets parser alone would refuse) is read by
:class:`~server.gateway.bodies.BodyReadingConnection` and found with
:func:`~server.gateway.bodies.request_body`, the client's address with
:func:`~server.gateway.bodies.remote_address`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from websockets.http11 import Request, Response

from server.gateway import http

Handler = Callable[[Request], Response]


class Routes:
    """An exact-path route table, prefix routes, then static files under ``static_dir``."""

    def __init__(self, static_dir: Path) -> None:
        self.static_dir = static_dir
        self._exact: dict[tuple[str, str], Handler] = {}
        self._prefix: list[tuple[str, str, Handler]] = []

    def add(self, method: str, path: str, handler: Handler) -> None:
        """Serve ``method path`` (exact path, without query) with ``handler``."""
        self._exact[(method.upper(), path)] = handler

    def add_prefix(self, method: str, prefix: str, handler: Handler) -> None:
        """Serve every path under ``prefix`` (longest registered prefix first)."""
        self._prefix.append((method.upper(), prefix, handler))
        self._prefix.sort(key=lambda r: -len(r[1]))

    def dispatch(self, request: Request) -> Response:
        """The response to ``request``: its route's, a static file's, or 404."""
        path = request.path.split("?", 1)[0]
        method = request.method.upper()
        handler = self._exact.get((method, path))
        if handler is None:
            handler = next(
                (h for m, p, h in self._prefix if m == method and path.startswith(p)), None
            )
        if handler is not None:
            return handler(request)
        served = http.static_file(self.static_dir, path)
        if served is not None:
            return served
        return http.text(404, "not found\n")
