"""The ``[[pipeline]]`` section: registered systems, their params, and the run order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn, cast

from server.core.phases import PHASE_KEYS
from server.core.systems.registry import ParamSpec, SystemSpec, registered_systems
from server.gamedef.check import (
    MISSING,
    Checker,
    choices,
    describe,
    is_int,
    join_key,
    num,
    unknown,
)
from server.gamedef.limits import STEP_KEYS
from server.gamedef.schema import ArchetypeDef, PhaseName, SystemStep


def pipeline(
    c: Checker, value: object, archetypes: Sequence[ArchetypeDef]
) -> tuple[SystemStep, ...]:
    """``[[pipeline]]``: registered systems in allowed phases, with satisfiable needs."""
    items = c.array(value, "pipeline", "an array of tables ([[pipeline]])")
    systems = registered_systems()
    present = {c for a in archetypes for c in a.components}
    steps: list[SystemStep] = []
    for i, st in enumerate(items):
        spath = f"pipeline[{i}]"
        if not isinstance(st, Mapping):
            c.fail(spath, "a table ([[pipeline]])", describe(st))
        c.keys(st, spath, STEP_KEYS)
        sys_name = st.get("system", MISSING)
        if not isinstance(sys_name, str) or sys_name not in systems:
            c.fail(
                f"{spath}.system",
                f"a registered system: {', '.join(sorted(systems))}",
                describe(sys_name),
            )
        spec = systems[sys_name]
        phase = c.choice(st, spath, "phase", PHASE_KEYS)
        if phase not in spec.phases:
            allowed = [p for p in PHASE_KEYS if p in spec.phases]
            c.fail(
                f"{spath}.phase",
                f"a phase system {sys_name!r} may run in: {', '.join(allowed)}",
                describe(phase),
            )
        missing = [c for c in spec.requires if c not in present]
        if missing:
            c.fail(
                f"{spath}.system",
                f"archetypes that together have every component {sys_name!r} requires "
                f"({', '.join(spec.requires)})",
                f"no archetype has component {', '.join(missing)} (impossible pipeline)",
            )
        step_params = params(
            c,
            c.table(st, spath, "params", required=False, expected="a table of parameters"),
            spath,
            spec,
        )
        after_key = f"{spath}.after"
        after = c.array(
            st.get("after", []), after_key, "an array of system names in the same phase"
        )
        for j, dep in enumerate(after):
            if not isinstance(dep, str):
                c.fail(f"{after_key}[{j}]", "a system name (string)", describe(dep))
        steps.append(
            SystemStep(cast(PhaseName, phase), sys_name, step_params, tuple(cast(list[str], after)))
        )
    return order(c, steps)


def params(
    c: Checker, t: Mapping[Any, Any], spath: str, spec: SystemSpec
) -> tuple[tuple[str, Any], ...]:
    """A step's params checked against the spec, completed with defaults (spec order)."""
    ppath = f"{spath}.params"
    names = tuple(spec.params)
    for key in t:
        if key not in spec.params:
            expected = (
                f"a parameter of {spec.name!r}: {', '.join(names)}"
                if names
                else f"no parameters ({spec.name!r} takes none)"
            )
            c.fail(join_key(ppath, key), expected, unknown(key, names))
    out: list[tuple[str, Any]] = []
    for pname, pspec in spec.params.items():
        value = t.get(pname, MISSING)
        if value is MISSING and pspec.default is not None:
            out.append((pname, pspec.default))
            continue
        out.append((pname, param(c, join_key(ppath, pname), value, pspec, spec.name)))
    return tuple(out)


def param(c: Checker, key: str, value: object, p: ParamSpec, system: str) -> Any:
    """One parameter value checked against its :class:`ParamSpec`."""
    why = p.doc or f"a parameter of {system!r}"
    if p.default is None:
        why += f"; required by {system!r}"
    if p.kind is float:
        return c.number(key, value, lo=p.minimum, hi=p.maximum, why=why)
    if p.kind is int:
        lo = f">= {num(p.minimum)}" if p.minimum is not None else ""
        hi = f"<= {num(p.maximum)}" if p.maximum is not None else ""
        bounds = " and ".join(b for b in (lo, hi) if b)
        expected = "an integer" + (f" {bounds}" if bounds else "") + f" ({why})"
        if (
            not is_int(value)
            or (p.minimum is not None and cast(int, value) < p.minimum)
            or (p.maximum is not None and cast(int, value) > p.maximum)
        ):
            c.fail(key, expected, describe(value))
        return value
    kind_name = {bool: "a boolean", str: "a string"}.get(p.kind, f"a {p.kind.__name__}")
    if not isinstance(value, p.kind) or (p.kind is not bool and isinstance(value, bool)):
        c.fail(key, f"{kind_name} ({why})", describe(value))
    if p.choices and value not in p.choices:
        c.fail(key, f"one of {choices(p.choices)} ({why})", describe(value))
    return value


def order(c: Checker, steps: Sequence[SystemStep]) -> tuple[SystemStep, ...]:
    """Steps in run order: by phase, then a stable topological sort on ``after``.

    ``after = ["x"]`` means: after every step of system ``x`` in the same phase.
    Among the steps whose constraints are met, the earliest in the file runs first,
    so a pipeline without ``after`` keeps its file order inside each phase.
    """
    out: list[SystemStep] = []
    for phase in PHASE_KEYS:
        idxs = [i for i, s in enumerate(steps) if s.phase == phase]
        names = list(dict.fromkeys(steps[i].system for i in idxs))
        for i in idxs:
            for j, dep in enumerate(steps[i].after):
                if dep not in names:
                    c.fail(
                        f"pipeline[{i}].after[{j}]",
                        f"the name of a system in phase {phase!r}: {', '.join(names)}",
                        describe(dep),
                    )
        deps = {i: [k for k in idxs if steps[k].system in steps[i].after] for i in idxs}
        placed: list[int] = []
        while len(placed) < len(idxs):
            ready = [i for i in idxs if i not in placed and all(d in placed for d in deps[i])]
            if not ready:
                fail_cycle(c, steps, deps, [i for i in idxs if i not in placed], phase)
            placed.append(ready[0])
        out.extend(steps[i] for i in placed)
    return tuple(out)


def fail_cycle(
    c: Checker,
    steps: Sequence[SystemStep],
    deps: Mapping[int, Sequence[int]],
    remaining: Sequence[int],
    phase: str,
) -> NoReturn:
    """Name one cycle among ``remaining`` steps (each still waits for another one)."""
    seen: dict[int, int] = {}
    path: list[int] = []
    cur = remaining[0]
    while cur not in seen:
        seen[cur] = len(path)
        path.append(cur)
        cur = next(d for d in deps[cur] if d in remaining)
    cycle = path[seen[cur] :]
    start = cycle.index(min(cycle))
    cycle = cycle[start:] + cycle[:start]
    chain = " -> ".join(steps[i].system for i in (*cycle, cycle[0]))
    c.fail(
        f"pipeline[{cycle[0]}].after",
        f"'after' constraints without a cycle in phase {phase!r}",
        f"cyclic pipeline: {chain} (each runs after the next)",
    )
