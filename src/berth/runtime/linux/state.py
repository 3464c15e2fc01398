"""What ``berth-runtime`` reports about its containers, in runc's words.

``NativeRuntime`` keeps one ``<root>/<id>/state.json`` per container and knows three
statuses (created, running, stopped); runc reports a fourth, ``paused``, when the
container's freezer cgroup is frozen. This module reads the state root for ``list``,
computes that status and renders runc's state document::

    {"ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner"}

(``pid`` is 0 once stopped; ``created`` is RFC 3339 with nanoseconds and a ``Z``, as Go's
``time.RFC3339Nano`` prints it.)
"""

from __future__ import annotations

import datetime
import pwd
from dataclasses import dataclass
from pathlib import Path

from berth.errors import InvalidArgument, NotFound
from berth.runtime.linux.cgroups import DEFAULT_ROOT, CgroupManager, is_unified, open_manager
from berth.runtime.linux.cgroups import cgroupfs as fs
from berth.runtime.linux.cli_log import CommandError
from berth.runtime.linux.runtime import ContainerState, NativeRuntime

OCI_VERSION = "1.0.2"
NOT_EXIST = "container does not exist"


@dataclass(frozen=True)
class Container:
    state: ContainerState
    status: str  # created | running | paused | stopped
    owner: str  # the state dir's owner, by name (runc's list)


def load(runtime: NativeRuntime, container_id: str) -> Container:
    """The container or runc's "container does not exist" (also for a malformed id:
    runc says "invalid container ID format")."""
    try:
        state = runtime.state(container_id)
    except InvalidArgument:
        raise CommandError("invalid container ID format") from None
    except NotFound:
        raise CommandError(NOT_EXIST) from None
    status = runtime.status(container_id)
    if status == "running" and is_frozen(state.cgroups_path):
        status = "paused"
    return Container(state, status, _owner(runtime.state_root / container_id))


def list_all(runtime: NativeRuntime) -> list[Container]:
    """Every container under the state root, by id (runc reads the directory the same
    way; a directory without a readable state is skipped)."""
    root = runtime.state_root
    if not root.is_dir():
        return []
    found = []
    for entry in sorted(root.iterdir()):
        if not (entry / "state.json").is_file():
            continue
        try:
            found.append(load(runtime, entry.name))
        except (CommandError, ValueError, OSError):
            continue
    return found


def document(container: Container, owner: str = "") -> dict[str, object]:
    """runc's state JSON (``state`` prints owner "", ``list`` the owner's name)."""
    state = container.state
    return {
        "ociVersion": OCI_VERSION, "id": state.id,
        "pid": 0 if container.status == "stopped" else state.pid,
        "status": container.status, "bundle": state.bundle, "rootfs": state.rootfs,
        "created": rfc3339_nano(state.created), "owner": owner,
    }


def created_spec(runtime: NativeRuntime, container: Container) -> Path:
    """The container's config.json as created: NativeRuntime keeps a copy in its state
    dir; a container created before it did has only its bundle's."""
    copy = runtime.state_root / container.state.id / "config.json"
    return copy if copy.is_file() else Path(container.state.bundle) / "config.json"


def rfc3339_nano(iso: str) -> str:
    """``2026-12-05T11:32:35.342960+00:00`` → ``2026-12-05T11:32:35.34296Z`` (UTC, the
    fraction without trailing zeros, as Go prints RFC3339Nano)."""
    try:
        moment = datetime.datetime.fromisoformat(iso).astimezone(datetime.UTC)
    except ValueError:
        return iso
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def cgroup(state: ContainerState, root: Path = DEFAULT_ROOT) -> CgroupManager:
    if not state.cgroups_path:
        raise CommandError(f"container {state.id} has no cgroup")
    return open_manager(state.cgroups_path, root)


def is_frozen(cgroups_path: str, root: Path = DEFAULT_ROOT) -> bool:
    """The freezer's state: v1 ``freezer.state`` FROZEN, v2 ``cgroup.freeze`` 1."""
    if not cgroups_path:
        return False
    try:
        rel = fs.relative_path(cgroups_path)
        if is_unified(root):
            return fs.read(root / rel / "cgroup.freeze") == "1"
        return fs.read(root / "freezer" / rel / "freezer.state") in ("FROZEN", "FREEZING")
    except (OSError, ValueError):
        return False


def _owner(path: Path) -> str:
    try:
        uid = path.stat().st_uid
    except OSError:
        return ""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"#{uid}"
