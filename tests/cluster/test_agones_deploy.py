"""deploy/agones/: linted by Debian's yamllint, then checked against the fields of the
Agones CRDs it uses (GameServer, Fleet, FleetAutoscaler: the subset this repository
relies on, written from the Agones reference — the CRDs' full OpenAPI schemas need a
cluster or the network, neither of which the suite has)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from debian_packages import ensure_binary

AGONES = Path(__file__).resolve().parents[2] / "deploy" / "agones"
PORT_POLICIES = {"Dynamic", "Static", "Passthrough", "None"}
PROTOCOLS = {"UDP", "TCP", "TCPUDP"}
SDK_HEALTH_INTERVAL_S = 2  # AgonesLifecycle.health_interval_s
DRAIN_GRACE_S = 10


def load(name: str) -> dict[str, Any]:
    """Parse with the YAML parser yamllint itself uses (Debian's python3-yaml)."""
    code = "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)"
    done = subprocess.run(
        ["/usr/bin/python3", "-c", code, str(AGONES / name)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def check_gameserver_spec(spec: dict[str, Any], where: str) -> None:
    ports = spec["ports"]
    assert ports, f"{where}: no ports"
    for p in ports:
        assert isinstance(p["name"], str), where
        assert p["portPolicy"] in PORT_POLICIES, where
        assert p["protocol"] in PROTOCOLS, where
        assert isinstance(p["containerPort"], int), where
        assert 0 < p["containerPort"] < 65536, where
    health = spec["health"]
    for key in ("initialDelaySeconds", "periodSeconds", "failureThreshold"):
        assert isinstance(health[key], int), f"{where}: health.{key}"
        assert health[key] > 0, f"{where}: health.{key}"
    # The node pings every 2 s: a period holds at least two pings.
    assert health["periodSeconds"] >= 2 * SDK_HEALTH_INTERVAL_S, where
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= DRAIN_GRACE_S + 3, where
    (container,) = pod["containers"]
    assert container["image"], where
    assert "--agones" in container["args"], where
    assert container["resources"]["limits"]["cpu"] == "1", f"{where}: one node, one core"


def test_agones_files_pass_yamllint_and_the_crd_fields() -> None:
    yamllint = ensure_binary("yamllint", "yamllint")
    files = sorted(p.name for p in AGONES.glob("*.yaml"))
    assert files == ["fleet.yaml", "fleetautoscaler.yaml", "gameserver.yaml"]
    done = subprocess.run(
        [yamllint, "--strict", "-c", str(AGONES / ".yamllint"), *files],
        cwd=AGONES, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr

    gs = load("gameserver.yaml")
    assert (gs["apiVersion"], gs["kind"]) == ("agones.dev/v1", "GameServer")
    check_gameserver_spec(gs["spec"], "GameServer")

    fleet = load("fleet.yaml")
    assert (fleet["apiVersion"], fleet["kind"]) == ("agones.dev/v1", "Fleet")
    assert isinstance(fleet["spec"]["replicas"], int)
    assert fleet["spec"]["scheduling"] in {"Packed", "Distributed"}
    assert fleet["spec"]["strategy"]["type"] in {"RollingUpdate", "Recreate"}
    check_gameserver_spec(fleet["spec"]["template"]["spec"], "Fleet template")

    fas = load("fleetautoscaler.yaml")
    assert (fas["apiVersion"], fas["kind"]) == ("autoscaling.agones.dev/v1", "FleetAutoscaler")
    assert fas["spec"]["fleetName"] == fleet["metadata"]["name"]
    policy = fas["spec"]["policy"]
    assert policy["type"] == "Buffer"
    buffer = policy["buffer"]
    assert 0 < buffer["minReplicas"] <= buffer["maxReplicas"]
    assert isinstance(buffer["bufferSize"], int)
