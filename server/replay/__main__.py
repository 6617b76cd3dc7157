"""``python -m server.replay FILE info|verify|bisect|export|rerun`` (docs/replays.md).

Exit codes: 0 success (``verify``: every checkpoint agrees; ``bisect``: no divergence),
1 a divergence found, 2 a file that cannot be used (one line on stderr naming the file
and the record, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from server.replay.format import ReplayError
from server.replay.replayer import open_recording, recording_definition, verify
from server.replay.tools import (
    bisect_log,
    bisect_recordings,
    export,
    info,
    read_checksum_log,
    rerun_at_rate,
)


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="python -m server.replay", description="Inspect and re-simulate a match recording."
    )
    p.add_argument("file", type=Path, help="a recording (.twr)")
    p.add_argument(
        "--definition",
        type=Path,
        help="re-simulate with this definition file (refused unless its hash is the recorded one)",
    )
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="header, duration, players, checkpoints (JSON)")
    sub.add_parser("verify", help="re-simulate; compare every checkpoint and the end")
    b = sub.add_parser("bisect", help="first divergent tick against another recording or log")
    b.add_argument("other", type=Path, help="a second recording, or a JSON checksum log")
    e = sub.add_parser("export", help="positions over time as CSV (.csv) or NPZ (.npz)")
    e.add_argument("out", type=Path)
    e.add_argument("--every", type=int, default=1, help="one sample every N ticks")
    r = sub.add_parser("rerun", help="state sync: re-run the inputs at another tick rate")
    r.add_argument("--tick-rate", type=int, required=True, help="ticks per second")
    return p


def run(args: argparse.Namespace) -> int:
    """Execute one command; raises ReplayError for unusable files."""
    rec = open_recording(args.file)
    if args.command == "info":
        print(json.dumps(info(rec), indent=2))
        return 0
    defn = recording_definition(rec, args.definition)
    if args.command == "verify":
        result = verify(rec, defn)
        if result.divergent_tick is not None:
            print(f"DIVERGED at tick {result.divergent_tick}: {result.detail}")
            return 1
        tail = (
            ""
            if rec.ended is not None
            else " (no end record: truncated, replayed to the last whole record)"
        )
        print(f"ok: {result.checked} checkpoints agree over {result.ticks} ticks{tail}")
        return 0
    if args.command == "bisect":
        if args.other.suffix == ".twr":
            other = open_recording(args.other)
            found = bisect_recordings(rec, defn, other, recording_definition(other))
        else:
            found = bisect_log(rec, defn, read_checksum_log(args.other))
        print(found or "no divergence")
        return 1 if found else 0
    if args.command == "export":
        if args.every < 1:
            raise ReplayError(f"{args.file}: --every must be at least 1")
        n = export(rec, defn, args.out, args.every)
        print(f"wrote {args.out} ({n} rows)")
        return 0
    if args.command == "rerun":
        if not 1 <= args.tick_rate <= 1000:
            raise ReplayError(f"{args.file}: --tick-rate must be in 1..1000")
        print(json.dumps(rerun_at_rate(rec, defn, args.tick_rate), indent=2))
        return 0
    raise AssertionError(args.command)  # pragma: no cover - argparse restricts it


def main(argv: list[str] | None = None) -> int:
    """Entry point: one-line errors, exit 2, for anything wrong with the inputs."""
    args = parser().parse_args(argv)
    try:
        return run(args)
    except ReplayError as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"replay: {exc.filename or args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
