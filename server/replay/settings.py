"""Whether and where to record: ``--record DIR`` (every match) or a game's ``[replay]``.

``[replay]`` is read here from the definition's TOML file (the loader only accepts the
table): ``record`` (bool, default false), ``directory`` (str, default ``"replays"``,
relative to the working directory), ``checkpoint_s`` (float, 0.1..3600, default 10),
``max_mb`` (float, 0.01..1e6, default 256: the cap per recording), ``keep`` (int,
1..100000, default 100: recordings kept per directory, oldest deleted first). Command-line
flags win over the file: ``--record``, ``--record-checkpoint-s``, ``--record-max-mb``,
``--record-keep``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from server.config import ServerConfig
from server.errors import DefinitionError
from server.gamedef import GameDefinition
from server.replay.recorder import RecordSettings

_KEYS = {"record", "directory", "checkpoint_s", "max_mb", "keep"}


def replay_table(source: str) -> Mapping[str, Any]:
    """The ``[replay]`` table of the definition file (empty if none or not a file)."""
    try:
        data = tomllib.loads(Path(source).read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    table = data.get("replay", {})
    if not isinstance(table, Mapping):
        raise DefinitionError(source, "replay", "a table", type(table).__name__)
    return table


def _number(
    source: str, t: Mapping[str, Any], key: str, lo: float, hi: float, default: float
) -> float:
    value = t.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise DefinitionError(source, f"replay.{key}", f"a number in {lo}..{hi}", repr(value))
    return float(value)


def record_settings(config: ServerConfig, definition: GameDefinition) -> RecordSettings | None:
    """The recording settings for this server, or None when nothing is recorded."""
    src = definition.source
    t = replay_table(src)
    unknown = sorted(set(t) - _KEYS)
    if unknown:
        raise DefinitionError(
            src, f"replay.{unknown[0]}", f"one of {', '.join(sorted(_KEYS))}", "an unknown key"
        )
    record = t.get("record", False)
    if not isinstance(record, bool):
        raise DefinitionError(src, "replay.record", "true or false", repr(record))
    directory = t.get("directory", "replays")
    if not isinstance(directory, str) or not directory:
        raise DefinitionError(src, "replay.directory", "a directory path", repr(directory))
    checkpoint_s = _number(src, t, "checkpoint_s", 0.1, 3600.0, 10.0)
    max_mb = _number(src, t, "max_mb", 0.01, 1e6, 256.0)
    keep = _number(src, t, "keep", 1, 100_000, 100)
    if config.record:
        directory, record = config.record, True
    if not record:
        return None
    d = ServerConfig()
    if config.record_checkpoint_s != d.record_checkpoint_s:
        checkpoint_s = config.record_checkpoint_s
    if config.record_max_mb != d.record_max_mb:
        max_mb = config.record_max_mb
    if config.record_keep != d.record_keep:
        keep = config.record_keep
    return RecordSettings(Path(directory), checkpoint_s, int(max_mb * (1 << 20)), max(1, int(keep)))
