"""Plug-in system modules: ``[game] systems = ["games.tag.systems"]``.

A plug-in is a Python module whose import registers systems with ``@system``, exactly as
the built-ins do (bevy's plugins, Nakama's ``RegisterMatch``: the engine never imports a
game; a game registers itself). The loader imports every listed module *before* it
validates the pipeline, so plug-in names and params are checked like built-in ones.

Where a module is found, first match wins:

1. the definition's folder: ``tag.systems`` -> ``<folder>/tag/systems.py``;
2. the folder's parent: ``games.tag.systems`` -> ``data/games/tag/systems.py`` for a
   definition in ``data/games/``;
3. the Python path (:func:`importlib.import_module`).

A module file (or package ``__init__.py``) found in 1 or 2 is executed under its dotted
name and kept in :data:`sys.modules`, so loading the definition again (or a second
definition naming it) reuses it instead of registering its systems twice. Failures --
an import error, a name clash with a registered system, a module that registers no
system -- are :class:`~server.errors.DefinitionError` naming the module; systems a
failed module registered before failing are unregistered again, so nothing is
half-configured.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from server.core.systems.registry import SYSTEMS, DuplicateSystem, registered_systems
from server.gamedef.check import Checker, describe

MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
MAX_PLUGINS = 32


def _module_file(name: str, roots: Sequence[Path]) -> Path | None:
    parts = name.split(".")
    for root in roots:
        base = root.joinpath(*parts)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def _exec_file(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has one
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def systems_of(module: str) -> list[str]:
    """Names of the registered systems whose function lives in ``module``."""
    return [n for n, s in SYSTEMS.items() if getattr(s.fn, "__module__", None) == module]


def load_plugins(c: Checker, value: object) -> tuple[str, ...]:
    """Import ``[game] systems``; returns the module names (file order, no duplicates)."""
    items = c.array(value, "game.systems", "an array of module names (strings)")
    if len(items) > MAX_PLUGINS:
        c.fail("game.systems", f"at most {MAX_PLUGINS} modules", f"{len(items)} modules")
    registered_systems()  # built-ins first, so a clash with one is seen as a clash
    source_dir = Path(os.path.abspath(c.source)).parent if c.source != "<string>" else None
    roots = [source_dir, source_dir.parent] if source_dir is not None else []
    out: list[str] = []
    for i, name in enumerate(items):
        key = f"game.systems[{i}]"
        expected = 'a dotted module name of plug-in systems (e.g. "games.tag.systems")'
        if not isinstance(name, str) or len(name) > 200 or not MODULE_NAME.fullmatch(name):
            c.fail(key, expected, describe(name))
        if name in out:
            c.fail(key, "each module at most once", describe(name))
        out.append(name)
        expected = (
            f"module {name!r}: importable from the definition's folder, its parent or the "
            "Python path, registering at least one system with @system"
        )
        if name in sys.modules:
            if not systems_of(name):
                c.fail(key, expected, f"module {name!r} registers no system")
            continue
        before = set(SYSTEMS)
        try:
            path = _module_file(name, roots)
            if path is not None:
                _exec_file(name, path)
            else:
                importlib.import_module(name)
        except DuplicateSystem as exc:
            _unregister(set(SYSTEMS) - before)
            c.fail(
                key,
                f"module {name!r} registering systems under new names",
                f"a name clash in module {name!r}: {exc} (a built-in or another plug-in has it)",
            )
        except Exception as exc:
            _unregister(set(SYSTEMS) - before)
            c.fail(key, expected, f"module {name!r} failed to import: {type(exc).__name__}: {exc}")
        if not systems_of(name):
            c.fail(key, expected, f"module {name!r} registers no system")
    return tuple(out)


def _unregister(names: set[str]) -> None:
    for n in names:
        SYSTEMS.pop(n, None)
