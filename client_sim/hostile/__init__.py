"""Hostile clients: each case misbehaves one way and checks the server's documented answer.

Every case is an ``async`` function ``(url, ctx) -> Observation``: it attacks the server at
``url`` one way (bad bytes, floods, stale tokens, slow handshakes, ...) and reports what it
expected (from docs/protocol.md) and what it observed. While cases run, a handful of honest
bots (:class:`HonestPool`) play in the same process and count the frames they receive, so
the runner can show that nobody else noticed. The tests in ``tests/hostile`` and the CLI
share these functions::

    python -m client_sim.hostile --url ws://127.0.0.1:8765/ws --report hostile.json
    python -m client_sim.hostile --url ... --cases non_msgpack,flood --honest 4

Cases that only make sense in one sync mode (``modes``) are skipped when the server's
``WELCOME.sync`` says otherwise. Timing assumptions (idle timeout, grace, ...) default to the
server's defaults and are flags, so the harness works against a server run with other limits.

The package:

- :mod:`~client_sim.hostile.registry`: :class:`Observation`, :class:`Limits`,
  :class:`Context`, :class:`Case`, the ``CASES`` registry and the :func:`case` decorator;
- :mod:`~client_sim.hostile.wire`: talking to the server (hello, close codes, ``/metrics``);
- :mod:`~client_sim.hostile.honest`: the honest bots;
- ``cases_*``: the cases, one module per kind of attack;
- :mod:`~client_sim.hostile.runner`: running cases, the table and the command line.

Adding cases from another module: decorate each case with
``@client_sim.hostile.registry.case("the documented answer", modes=(...))``, return
``registry.obs(name, observed, passed)``, and add the module's dotted name to
:data:`CASE_MODULES` below. Cases run in registration order, module by module in the order
of :data:`CASE_MODULES`; keep ``cases_matchmaking`` last (its ticket flood empties this
address's matchmaking bucket for a few seconds).
"""

from __future__ import annotations

import importlib

from client_sim.hostile.honest import HonestBot, HonestPool
from client_sim.hostile.registry import (
    CASES,
    Case,
    CaseFn,
    Context,
    Limits,
    Observation,
    case,
    obs,
)
from client_sim.hostile.runner import (
    build_parser,
    format_table,
    main,
    run_all,
    run_case,
    select_cases,
)
from client_sim.hostile.wire import (
    MetricsProbe,
    as_bytes,
    close_code,
    code_name,
    hello,
    host_port,
    http_base,
    open_ws,
    packb,
    parse_metrics,
)

CASE_MODULES: tuple[str, ...] = (
    "client_sim.hostile.cases_messages",
    "client_sim.hostile.cases_sessions",
    "client_sim.hostile.cases_latency",
    "client_sim.hostile.cases_matchmaking",
)
"""The modules whose ``@case`` functions make up ``CASES``, imported in this order."""

for _module in CASE_MODULES:
    importlib.import_module(_module)

__all__ = [
    "CASES",
    "CASE_MODULES",
    "Case",
    "CaseFn",
    "Context",
    "HonestBot",
    "HonestPool",
    "Limits",
    "MetricsProbe",
    "Observation",
    "as_bytes",
    "build_parser",
    "case",
    "close_code",
    "code_name",
    "format_table",
    "hello",
    "host_port",
    "http_base",
    "main",
    "obs",
    "open_ws",
    "packb",
    "parse_metrics",
    "run_all",
    "run_case",
    "select_cases",
]
