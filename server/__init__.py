"""Tickwire: an authoritative real-time game server.

Layers (data flows one way through a tick):

- :mod:`server.core` -- the pure simulation (numpy + stdlib only).
- :mod:`server.gamedef` -- game definitions loaded from TOML.
- :mod:`server.match` -- matches, their lifecycle and the tick runner.
- :mod:`server.net` -- the wire protocol and the websockets adapter.
- :mod:`server.ops` -- metrics and logging; observes, never steers.
"""

__version__ = "0.1.0"
