"""What a test berthd left in the host's network state, and its removal.

Each test daemon has its own default bridge (``bt<hex>``) and iptables chain prefix
(``BT<hex>``), so what is its own can be told from a real Docker's or another berthd's:

    host netns
    ├── bt<hex>            the daemon's default bridge       (removed by remove_leftovers)
    ├── br-<netid12>       its user networks' bridges        (the ids it listed)
    ├── vb<hash>           host ends of its containers' veths (enslaved to those bridges)
    ├── <exec-root>/netns/<cid>  its containers' netns binds  (unmounted)
    └── iptables           chains BT<hex>* and the jumps to them in the built-in chains

Nothing here is removed when berthd stops (published ports outlive it: live restore), so a
test daemon's teardown calls :func:`remove_leftovers`. The checks (:func:`chains`,
:func:`rules`, :func:`veths_on`) read the same state so tests can assert nothing leaked.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from pathlib import Path

TABLES = ("nat", "filter", "mangle", "raw")


def iptables_save(table: str) -> list[str]:
    done = subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True,
                          check=False, timeout=30)
    return done.stdout.splitlines() if done.returncode == 0 else []


def chains(prefix: str) -> dict[str, set[str]]:
    """table → the chains named ``prefix*`` in it."""
    found: dict[str, set[str]] = {}
    for table in TABLES:
        names = {line[1:].split()[0] for line in iptables_save(table)
                 if line.startswith(":") and line[1:].startswith(prefix)}
        if names:
            found[table] = names
    return found


def rules(prefix: str) -> list[str]:
    """Every rule in a ``prefix*`` chain or jumping to one, as ``table: -A ...``."""
    out = []
    for table in TABLES:
        for line in iptables_save(table):
            if line.startswith("-A ") and prefix in line:
                out.append(f"{table}: {line}")
    return out


def container_rules(prefix: str, cid: str) -> list[str]:
    """The rules berth made for one container (their comment, ``PREFIX:<cid>``, names
    it)."""
    return [r for r in rules(prefix) if cid[:12] in r]


def dnat_rules(prefix: str) -> list[str]:
    """Every published port's DNAT rule."""
    return [r for r in rules(prefix) if "DNAT" in r]


def links() -> list[dict[str, object]]:
    done = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True,
                          check=True, timeout=30)
    data = json.loads(done.stdout or "[]")
    assert isinstance(data, list)
    return data


def veths_on(bridges: set[str]) -> list[str]:
    """Host veth ends enslaved to one of ``bridges``."""
    return [str(link["ifname"]) for link in links() if link.get("master") in bridges]


def link_exists(name: str) -> bool:
    return any(link["ifname"] == name for link in links())


def remove_leftovers(prefix: str, bridges: set[str], netns_dir: Path) -> None:
    """Remove the chains ``prefix*`` (and jumps to them), ``bridges`` with their veths, and
    the netns binds under ``netns_dir``: what a stopped test daemon leaves behind."""
    for table in TABLES:
        lines = iptables_save(table)
        for line in lines:  # jumps from chains not ours first
            if line.startswith("-A ") and not line.split()[1].startswith(prefix) \
                    and f"-j {prefix}" in line:
                subprocess.run(["iptables", "-w", "-t", table, "-D", *line.split()[1:]],
                               capture_output=True, check=False, timeout=30)
        ours = [line[1:].split()[0] for line in lines
                if line.startswith(":") and line[1:].startswith(prefix)]
        for chain in ours:
            subprocess.run(["iptables", "-w", "-t", table, "-F", chain],
                           capture_output=True, check=False, timeout=30)
        for chain in ours:
            subprocess.run(["iptables", "-w", "-t", table, "-X", chain],
                           capture_output=True, check=False, timeout=30)
    for veth in veths_on(bridges):
        subprocess.run(["ip", "link", "del", veth], capture_output=True, check=False,
                       timeout=30)
    for bridge in bridges:
        if link_exists(bridge):
            subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False,
                           timeout=30)
    if netns_dir.is_dir():
        for ns in netns_dir.iterdir():
            subprocess.run(["umount", "-l", str(ns)], capture_output=True, check=False,
                           timeout=30)
            with contextlib.suppress(OSError):
                ns.unlink()
        subprocess.run(["umount", "-l", str(netns_dir)],  # its bind onto itself
                       capture_output=True, check=False, timeout=30)


def processes_mentioning(marker: str) -> list[int]:
    """Pids whose command line names ``marker`` (a test daemon's private root): its
    detached helpers, such as userland proxies."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found
