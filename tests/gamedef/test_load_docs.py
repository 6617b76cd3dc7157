"""docs/game-definitions.md stays in step with the loader: every key and system documented."""

from __future__ import annotations

import re

from server.core.phases import PHASE_KEYS
from server.core.systems.registry import registered_systems
from server.gamedef import load as load_module
from tests.gamedef.mutations import (
    ARENA_DATA,
    DOCS,
    toml_paths,
)

DOC_TEXT = DOCS.read_text(encoding="utf-8")


def doc_key(path: tuple[str | int, ...]) -> str:
    """The key as the docs' tables write it: user-chosen names become placeholders."""
    parts = list(path)
    head = parts[0]
    if head == "components":
        names = ["<component>", "<field>"][: len(parts) - 1]
        return ".".join(["components", *names])
    if head == "archetypes":
        return ".".join(["archetypes", "<archetype>", *map(str, parts[2:])])
    if head in ("spawns", "pipeline"):
        rest = [str(p) for p in parts[2:]]
        if rest[:1] == ["params"]:
            rest = rest[:1]
        return ".".join([f"{head}[]", *rest]) if rest else head
    if parts[:2] == ["sync", "quantize"] and len(parts) > 2:
        return 'sync.quantize."<component>.<field>"'
    return ".".join(map(str, parts))


def test_docs_document_every_key_when_arena_uses_it() -> None:
    """Every key arena.toml sets has a row in docs/game-definitions.md."""
    documented = set(re.findall(r"^\| `([^`]+)` \|", DOC_TEXT, flags=re.MULTILINE))
    missing = sorted({doc_key(p) for p in toml_paths(ARENA_DATA)} - documented)
    assert not missing, f"undocumented keys: {missing}"
    params = {k for step in ARENA_DATA["pipeline"] for k in step.get("params", {})}
    assert all(f"`{p}`" in DOC_TEXT for p in params)


def test_docs_document_every_key_when_the_loader_accepts_it() -> None:
    """Every key of every table the loader accepts is in the docs' key tables."""
    tables = {
        "": load_module.TOP_KEYS,
        "game": load_module.GAME_KEYS,
        "world": load_module.WORLD_KEYS,
        "archetypes.<archetype>": load_module.ARCHETYPE_KEYS,
        "spawns[]": load_module.SPAWN_KEYS,
        "pipeline[]": load_module.STEP_KEYS,
        "spatial": load_module.SPATIAL_KEYS,
        "sync": load_module.SYNC_KEYS,
        "lockstep": load_module.LOCKSTEP_KEYS,
        "input.<field>": load_module.INPUT_FIELD_KEYS,
        'sync.replicate."<component>.<field>"': load_module.REPLICATE_KEYS,
        "events.<event>": load_module.EVENT_KEYS,
        "rules": load_module.RULES_KEYS,
        "render": load_module.RENDER_KEYS,
        "render.kinds.<archetype>": load_module.RENDER_KIND_KEYS,
        "render.bar": load_module.BAR_KEYS,
    }
    for prefix, (required, optional) in tables.items():
        for key in (*required, *optional):
            full = f"{prefix}.{key}" if prefix else key
            assert f"| `{full}` |" in DOC_TEXT, f"{full} is not documented"


def test_docs_list_every_builtin_system_when_it_is_registered() -> None:
    """Each built-in system has a row with its phases, components and parameters."""
    rows = [line for line in DOC_TEXT.splitlines() if line.startswith("| `")]
    for name, spec in registered_systems().items():
        if not spec.fn.__module__.startswith("server.core.systems."):
            continue  # a plug-in registered by another test module
        row = next((r for r in rows if r.startswith(f"| `{name}` |")), None)
        assert row is not None, f"system {name} is not documented"
        if spec.phases != frozenset(PHASE_KEYS):
            assert all(f"`{p}`" in row for p in spec.phases), row
        assert all(f"`{c}`" in row for c in spec.requires), row
        for pname, pspec in spec.params.items():
            assert f"`{pname}`" in row
            param_row = next(r for r in rows if r.startswith(f"| `{name}` | `{pname}` |"))
            default = "required" if pspec.default is None else str(pspec.default)
            assert f"| {default} |" in param_row, param_row
