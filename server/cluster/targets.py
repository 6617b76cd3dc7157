"""Prometheus file service discovery from the directory: every live node's /metrics.

``python -m server.cluster.targets --redis-url redis://redis:6379/0 --out nodes/tickwire.json
--every 10`` rewrites the file every 10 s (atomically: write, then rename) with one target
group per live node: ``{"targets": ["host:port"], "labels": {"node": "<node id>"}}``.
Prometheus' ``file_sd_configs`` watches the file (deploy/prometheus/prometheus.yml, job
``tickwire-nodes``), so nodes that start, die or restart are scraped without a reload;
``node`` becomes the dashboard's node variable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from server.directory import DirectoryUnavailable, NodeRecord
from server.directory.redis_store import RedisDirectory


def target_groups(nodes: list[NodeRecord]) -> list[dict[str, Any]]:
    """The file_sd JSON of these nodes (those without an HTTP address are left out)."""
    groups = []
    for n in sorted(nodes, key=lambda n: n.node_id):
        parts = urlsplit(n.http_url)
        if not parts.hostname or not parts.port:
            continue
        groups.append(
            {"targets": [f"{parts.hostname}:{parts.port}"], "labels": {"node": n.node_id}}
        )
    return groups


def write_atomically(path: Path, groups: list[dict[str, Any]]) -> None:
    """Write the file so Prometheus never reads half of it."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(groups, indent=1))
    os.replace(tmp, path)


async def _run(args: argparse.Namespace) -> int:
    d = RedisDirectory(args.redis_url, cluster=args.cluster_name)
    out = Path(args.out)
    try:
        while True:
            try:
                write_atomically(out, target_groups(await d.live_nodes()))
            except DirectoryUnavailable as exc:
                print(f"directory unavailable, keeping the last file: {exc}", file=sys.stderr)
            if not args.every:
                return 0
            await asyncio.sleep(args.every)
    finally:
        await d.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m server.cluster.targets``."""
    p = argparse.ArgumentParser(prog="python -m server.cluster.targets", description=__doc__)
    p.add_argument("--redis-url", required=True)
    p.add_argument("--cluster-name", default="tickwire")
    p.add_argument("--out", required=True, help="the file_sd JSON file to (re)write")
    p.add_argument("--every", type=float, default=0.0, help="rewrite every N s (0: once)")
    return asyncio.run(_run(p.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
