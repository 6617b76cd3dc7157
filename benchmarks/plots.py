"""PNG plots for the benchmark commands (matplotlib's Agg canvas, no pyplot, no display).

matplotlib is optional (the ``plot`` extra, also part of ``test``): without it the
commands still write their JSON and print :data:`SKIPPED`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

SKIPPED = (
    "plots skipped: matplotlib is not installed "
    "(.venv/bin/pip install -e '.[plot]' or .venv/bin/pip install matplotlib)"
)

Series = dict[str, list[tuple[float, float]]]
"""label -> (x, y) points, plotted as one line each."""


def available() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


def png_path(json_path: Path, suffix: str) -> Path:
    """``<json stem>-<suffix>.png`` next to the JSON file."""
    return json_path.with_name(f"{json_path.stem}-{suffix}.png")


def _figure(width: float = 7.0, height: float = 4.5) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def lines(
    path: Path,
    title: str,
    xlabel: str,
    ylabel: str,
    series: Series,
    bars: Sequence[tuple[float, float]] = (),
    bar_label: str = "bar (QUALITY.md)",
    log_x: bool = False,
) -> Path:
    """One line per series; ``bars`` as red horizontal ticks (the ceiling at that x)."""
    fig = _figure()
    ax = fig.add_subplot()
    for label, points in series.items():
        pts = sorted(points)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
    if bars:
        ax.scatter(
            [b[0] for b in bars],
            [b[1] for b in bars],
            marker="_",
            s=600,
            linewidths=2.5,
            color="tab:red",
            label=bar_label,
            zorder=3,
        )
    if log_x:
        ax.set_xscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    if series or bars:
        ax.legend()
    return _save(fig, path)


def bar_chart(path: Path, title: str, ylabel: str, labels: list[str], values: list[float]) -> Path:
    """One bar per label, the value written above it."""
    fig = _figure(max(6.0, 1.3 * len(labels) + 2), 4.5)
    ax = fig.add_subplot()
    rects = ax.bar(range(len(labels)), values, color="tab:blue")
    ax.bar_label(rects, fmt="%.0f")
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    return _save(fig, path)


def panels(path: Path, title: str, xlabel: str, plots: Sequence[tuple[str, Series]]) -> Path:
    """Line plots side by side sharing an x axis label: ``(ylabel, series)`` each."""
    fig = _figure(5.5 * len(plots), 4.5)
    fig.suptitle(title)
    axes = fig.subplots(1, len(plots), squeeze=False)[0]
    for ax, (ylabel, series) in zip(axes, plots, strict=True):
        for label, points in series.items():
            pts = sorted(points)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        if series:
            ax.legend()
    return _save(fig, path)
