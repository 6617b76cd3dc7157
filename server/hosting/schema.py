"""The game schema keys of ``WELCOME``: what a client needs to decode any game.

``input`` (the declared input fields), ``fields`` (replicated fields: the index of each
is its index in ``STATE.r``), ``events`` (the index of each is its index in
``STATE.v``), ``render``, ``bot`` and ``rules``. docs/protocol.md, ``WELCOME``.
"""

from __future__ import annotations

from typing import Any

from server.core.sync.fields import FieldEncoder
from server.gamedef.inputs import input_schema
from server.gamedef.schema import GameDefinition


def game_schema(defn: GameDefinition, fields: FieldEncoder) -> dict[str, Any]:
    """The schema keys of ``WELCOME`` for ``defn`` (the same for every client)."""
    return {
        "input": input_schema(defn.inputs),
        "fields": fields.schema(),
        "events": [
            {"name": e.name, "audience": e.audience, "fields": [list(f) for f in e.fields]}
            for e in defn.events
        ],
        "render": defn.render.to_wire(),
        "bot": defn.bot,
        "rules": {"score": defn.rules.score, "result_fields": list(defn.rules.result_fields)},
    }
