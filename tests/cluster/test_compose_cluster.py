"""The compose cluster stack (deploy/cluster/): validated by a real Compose
implementation (Debian's docker-compose; ``docker compose`` too where the plugin is
installed), its Prometheus configuration by promtool, and its wiring checked: every node
behind the front by name, advertising itself under that name, discoverable by Prometheus."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from debian_packages import ensure_binary

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "deploy" / "cluster"
COMPOSE = STACK / "docker-compose.yml"
SERVICES = {"redis", "node0", "node1", "front-config", "front", "targets", "prometheus",
            "grafana"}  # fmt: skip


def compose_commands() -> list[list[str]]:
    commands = [[ensure_binary("docker-compose", "docker-compose")]]
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        commands.append([docker, "compose"])
    return commands


def test_compose_cluster_stack_is_valid_and_wired() -> None:
    for compose in compose_commands():
        base = [*compose, "-p", "tickwire-cluster", "-f", str(COMPOSE)]
        checked = subprocess.run([*base, "config", "-q"], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        listed = subprocess.run([*base, "config", "--services"], capture_output=True, text=True)
        assert set(listed.stdout.split()) == SERVICES, listed.stdout
    text = COMPOSE.read_text()
    nodes = dict(re.findall(r"^  (node\d):\n(?:.*\n)*?\s+- --node-name=(\w+)", text, re.M))
    assert nodes == {"node0": "n0", "node1": "n1"}
    front = re.search(r"--nodes=(\S+)", text)
    assert front is not None
    assert front.group(1) == ",".join(f"{n}={s}:8765" for s, n in sorted(nodes.items()))
    for service, name in nodes.items():
        assert f"--public-url=wss://localhost:8443/n/{name}/ws" in text
        assert f"--public-http-url=http://{service}:8765" in text
    assert "TICKWIRE_REDIS_URL: redis://redis:6379/0" in text
    assert "--redis-url=redis://redis:6379/0" in text  # the targets service
    assert "--out=/nodes/tickwire.json" in text
    assert "prometheus-nodes:/etc/prometheus/nodes:ro" in text


def test_cluster_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    promtool = ensure_binary("promtool", "prometheus")
    shutil.copy(STACK / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copy(ROOT / "deploy" / "prometheus" / "alerts.yml", tmp_path / "alerts.yml")
    done = subprocess.run(
        [promtool, "check", "config", "prometheus.yml"], cwd=tmp_path, capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"/etc/prometheus/nodes/*.json"' in (STACK / "prometheus.yml").read_text()
