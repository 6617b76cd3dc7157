"""Plug-in system modules named by ``[game] systems``: found, imported, checked, refused."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from server.core.systems.registry import SYSTEMS
from server.errors import DefinitionError
from server.gamedef import load_definition

ROOT = Path(__file__).resolve().parent.parent.parent
ARENA_TEXT = (ROOT / "data" / "games" / "arena.toml").read_text()

PLUGIN = '''
from server.core.systems.registry import ParamSpec, system


@system("{name}", requires=("velocity",), params={{"k": ParamSpec(int, 1, 0, 9)}})
def plug(world, ctx, params):
    """A plug-in system for tests."""
'''


def write_game(folder: Path, systems: list[str], extra_step: str = "") -> Path:
    """A copy of arena.toml in ``folder`` naming plug-in ``systems`` (and maybe a step)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = ", ".join(f'"{s}"' for s in systems)
    text = ARENA_TEXT.replace("[game]\n", f'[game]\nsystems = [{names}]\nbot = "chase"\n', 1)
    if extra_step:
        text = text.replace("[spatial]", f"[[pipeline]]\n{extra_step}\n\n[spatial]", 1)
    path = folder / "game.toml"
    path.write_text(text)
    return path


def unique(prefix: str) -> str:
    """A module or system name no other test uses (the registry is process-wide)."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def test_loader_imports_plugin_when_module_is_in_the_definitions_folder(tmp_path: Path) -> None:
    """A module beside the definition registers a system the pipeline can use, with params."""
    pkg, sysname = unique("pkg"), unique("plug")
    (tmp_path / pkg).mkdir()
    (tmp_path / pkg / "systems.py").write_text(PLUGIN.format(name=sysname))
    step = f'phase = "update"\nsystem = "{sysname}"\nparams = {{ k = 3 }}'
    defn = load_definition(write_game(tmp_path, [f"{pkg}.systems"], step))
    assert defn.plugins == (f"{pkg}.systems",)
    assert defn.bot == "chase"
    assert any(s.system == sysname and s.params_dict() == {"k": 3} for s in defn.pipeline)
    again = load_definition(write_game(tmp_path, [f"{pkg}.systems"], step))
    assert again.plugins == defn.plugins  # a second load reuses the module


def test_loader_finds_plugin_when_module_path_starts_at_the_folders_parent(
    tmp_path: Path,
) -> None:
    """``games.<pkg>.systems`` resolves to ``<parent>/games/<pkg>/systems.py``."""
    pkg, sysname = unique("pkg"), unique("plug")
    (tmp_path / "games" / pkg).mkdir(parents=True)
    (tmp_path / "games" / pkg / "systems.py").write_text(PLUGIN.format(name=sysname))
    defn = load_definition(write_game(tmp_path / "games", [f"games.{pkg}.systems"]))
    assert sysname in SYSTEMS
    assert defn.plugins == (f"games.{pkg}.systems",)


def test_loader_names_module_when_plugin_fails_to_import(tmp_path: Path) -> None:
    """A module that raises on import is a DefinitionError naming it; nothing stays registered."""
    pkg, sysname = unique("pkg"), unique("plug")
    (tmp_path / pkg).mkdir()
    (tmp_path / pkg / "systems.py").write_text(
        PLUGIN.format(name=sysname) + "\nraise RuntimeError('boom')\n"
    )
    with pytest.raises(DefinitionError) as info:
        load_definition(write_game(tmp_path, [f"{pkg}.systems"]))
    assert info.value.key == "game.systems[0]"
    assert f"{pkg}.systems" in str(info.value)
    assert "RuntimeError: boom" in str(info.value)
    assert sysname not in SYSTEMS


def test_loader_refuses_plugin_when_a_name_clashes_with_a_builtin(tmp_path: Path) -> None:
    """Registering ``move`` again is a name clash naming the module."""
    pkg = unique("pkg")
    (tmp_path / pkg).mkdir()
    (tmp_path / pkg / "systems.py").write_text(PLUGIN.format(name="move"))
    with pytest.raises(DefinitionError) as info:
        load_definition(write_game(tmp_path, [f"{pkg}.systems"]))
    assert "name clash" in info.value.got
    assert f"{pkg}.systems" in info.value.got


def test_loader_refuses_plugin_when_module_registers_nothing(tmp_path: Path) -> None:
    """A module on the Python path with no @system (``json``) is refused, as is a missing one."""
    with pytest.raises(DefinitionError) as info:
        load_definition(write_game(tmp_path, ["json"]))
    assert info.value.got == "module 'json' registers no system"
    with pytest.raises(DefinitionError) as info:
        load_definition(write_game(tmp_path, [unique("nowhere")]))
    assert "ModuleNotFoundError" in info.value.got
    with pytest.raises(DefinitionError) as info:
        load_definition(write_game(tmp_path, ["not a module"]))
    assert info.value.key == "game.systems[0]"
