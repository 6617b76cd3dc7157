"""Test hosts in network namespaces (``ip netns`` + veth), for faults that cross a network.

Each host gets a namespace ``tw<tag><i>`` joined to the root namespace by a veth pair on
its own /30 in 10.213.<k>.0 (these are this test's own hosts, inside its sandbox; nothing
else is ever addressed). ``cut``/``heal`` take a host's link down and up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def namespaces_available() -> str | None:
    """None if namespaces can be made here, else why not."""
    if shutil.which("ip") is None:
        return "iproute2 is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root"
    probe = f"twprobe{os.getpid()}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


@dataclass
class Host:
    """One namespace: ``ns`` runs processes, ``addr`` is its address, ``gateway`` the root side."""

    ns: str
    veth_root: str
    addr: str
    gateway: str

    def cmd(self, *argv: str) -> list[str]:
        """``argv`` run inside this host."""
        return ["ip", "netns", "exec", self.ns, *argv]

    def cut(self) -> None:
        """Take the link down: nothing crosses it until :meth:`heal`."""
        _ip("link", "set", self.veth_root, "down")

    def heal(self) -> None:
        """Bring the link back up."""
        _ip("link", "set", self.veth_root, "up")


class Lab:
    """Namespaces made for one test and removed after it."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.hosts: list[Host] = []

    def add_host(self) -> Host:
        i = len(self.hosts)
        ns = f"tw{self.tag}{i}"
        root, inner = f"tw{self.tag}{i}r", f"tw{self.tag}{i}n"
        gateway, addr = f"10.213.{i}.1", f"10.213.{i}.2"
        _ip("netns", "del", ns, check=False)
        _ip("link", "del", root, check=False)
        _ip("netns", "add", ns)
        _ip("link", "add", root, "type", "veth", "peer", "name", inner)
        _ip("link", "set", inner, "netns", ns)
        _ip("addr", "add", f"{gateway}/30", "dev", root)
        _ip("link", "set", root, "up")
        _ip("-n", ns, "addr", "add", f"{addr}/30", "dev", inner)
        _ip("-n", ns, "link", "set", inner, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", ns, "route", "add", "default", "via", gateway)
        host = Host(ns, root, addr, gateway)
        self.hosts.append(host)
        return host

    def close(self) -> None:
        for h in self.hosts:
            _ip("link", "del", h.veth_root, check=False)
            _ip("netns", "del", h.ns, check=False)
