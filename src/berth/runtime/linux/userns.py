"""User namespaces: the id maps the caller writes for a child that has just unshared
CLONE_NEWUSER (runc's ``nsexec.c`` SYNC_USERMAP_PLS), and what the container side needs
to know about the namespace it is in.

The caller is in the parent user namespace, so it (not the child, which has no
capability there) may write any mapping its own capabilities allow::

    child 1: unshare(CLONE_NEWUSER) ── {"type": "userns"} ──▶ caller
                                                             [setgroups "deny"]
                                                             /proc/<child1>/uid_map
                                                             /proc/<child1>/gid_map
    child 1: setresgid/setresuid(0)  ◀──────── ack ──────── caller
             unshare(the other namespaces, now owned by the new user namespace)
"""

from __future__ import annotations

import os

from berth.runtime.linux.validate import IdMapping


def format_map(mappings: list[IdMapping]) -> bytes:
    return "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n"
                   for m in mappings).encode()


def write_maps(pid: int, uid_map: list[IdMapping], gid_map: list[IdMapping]) -> None:
    """Write ``pid``'s maps (each in a single write, as the kernel requires). An
    unprivileged caller can only map itself and must deny setgroups first, as rootless
    runc does; root keeps setgroups allowed."""
    if os.geteuid() != 0:
        _write(f"/proc/{pid}/setgroups", b"deny")
    _write(f"/proc/{pid}/uid_map", format_map(uid_map))
    _write(f"/proc/{pid}/gid_map", format_map(gid_map))


def _write(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def in_user_namespace() -> bool:
    """False in the initial user namespace (whose uid_map is the identity on all ids)."""
    try:
        with open("/proc/self/uid_map") as f:
            text = f.read().split()
    except OSError:
        return False
    return text != ["0", "0", "4294967295"]


def setgroups_allowed() -> bool:
    try:
        with open("/proc/self/setgroups") as f:
            return f.read().strip() != "deny"
    except OSError:
        return True


def host_id(mappings: list[IdMapping], container_id: int) -> int:
    """The host id that ``container_id`` maps to (for chowning the exec fifo)."""
    for m in mappings:
        if m["containerID"] <= container_id < m["containerID"] + m["size"]:
            return m["hostID"] + container_id - m["containerID"]
    raise ValueError(f"container id {container_id} is not mapped")
