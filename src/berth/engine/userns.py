"""``berthd --userns-remap``: container root as an unprivileged host range (issue 13).

moby's ``setupRemappedRoot``/``parseRemappedRoot`` and ``usergroup`` (idtools)::

    --userns-remap default      the user and group ``berthremap`` (made with useradd -r,
                                and a 65536-id range in /etc/subuid and /etc/subgid from
                                100000 up if it has none: docker's ``dockremap``)
    --userns-remap USER[:GROUP] names or ids; GROUP defaults to USER's name
           │
           ▼
    Remap: the uid ranges of USER in /etc/subuid, the gid ranges of GROUP in
    /etc/subgid, mapped in file order onto container ids 0, 1, ...

Each container without ``--userns host`` then gets a user namespace with those maps
(``UsernsPreparer``'s spec option); the shim mounts its rootfs layers idmapped with the
same maps (runtime/idmap.py), so the files stay on disk with the container's own ids.
docs/design/userns.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import logging
import os
import pwd
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from berth.engine.containers.model import Container, ContainerSpec
from berth.errors import BerthError, InvalidArgument
from berth.oci import spec as oci
from berth.runtime import idmap
from berth.runtime.spec import SpecOpt

log = logging.getLogger(__name__)

DEFAULT = "default"
DEFAULT_USER = "berthremap"
RANGE_START = 100000
RANGE_SIZE = 65536
SUBUID = Path("/etc/subuid")
SUBGID = Path("/etc/subgid")
# <exec-root>/userns/<id>: a remapped container's user namespace, bound while it runs;
# its network namespace is made inside it (engine/networks/sandbox.py)
USERNS_DIR = "userns"


@dataclass(frozen=True)
class IdRange:
    container: int
    host: int
    size: int

    def option(self) -> str:
        return f"{self.container}:{self.host}:{self.size}"


@dataclass(frozen=True)
class Remap:
    user: str
    group: str
    uids: tuple[IdRange, ...]
    gids: tuple[IdRange, ...]

    @property
    def root(self) -> tuple[int, int]:
        """The host uid and gid of the container's root."""
        return _host(self.uids, 0), _host(self.gids, 0)

    def host_uid(self, uid: int) -> int:
        return _host(self.uids, uid)

    def host_gid(self, gid: int) -> int:
        return _host(self.gids, gid)

    def host_ids(self, uid: int, gid: int) -> tuple[int, int]:
        return self.host_uid(uid), self.host_gid(gid)


def _host(ranges: Sequence[IdRange], cid: int) -> int:
    for r in ranges:
        if r.container <= cid < r.container + r.size:
            return r.host + cid - r.container
    raise BerthError(f"id {cid} is not mapped by --userns-remap")


# ── the ranges ───────────────────────────────────────────────────────────────────────

def parse_subids(text: str, name: str, numeric: int) -> list[tuple[int, int]]:
    """(start, size) of each line of an /etc/subuid-format ``text`` for ``name`` (or its
    id ``numeric``), in file order."""
    out = []
    for line in text.splitlines():
        parts = line.strip().split(":")
        if len(parts) != 3 or parts[0].startswith("#"):
            continue
        if parts[0] in (name, str(numeric)) and parts[1].isdigit() and parts[2].isdigit():
            out.append((int(parts[1]), int(parts[2])))
    return out


def mapping(ranges: list[tuple[int, int]]) -> tuple[IdRange, ...]:
    """Ranges onto consecutive container ids from 0 (moby's createIDMap)."""
    out, inside = [], 0
    for start, size in ranges:
        out.append(IdRange(inside, start, size))
        inside += size
    return tuple(out)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def next_free(text: str) -> int:
    """The first start from 100000 up where 65536 ids overlap no range of ``text``
    (moby's findNextRangeStart)."""
    taken = sorted((int(p[1]), int(p[2])) for p in
                   (line.strip().split(":") for line in text.splitlines())
                   if len(p) == 3 and p[1].isdigit() and p[2].isdigit())
    start = RANGE_START
    for first, size in taken:
        if first < start + RANGE_SIZE and start < first + size:
            start = first + size
    return start


def resolve(value: str) -> tuple[str, str]:
    """``--userns-remap``'s value as (user, group) names (moby's parseRemappedRoot);
    ``default`` makes ``berthremap`` and its ranges when missing."""
    parts = value.split(":")
    if len(parts) > 2 or not parts[0]:
        raise InvalidArgument(f'Invalid user/group specification in --userns-remap: "{value}"')
    if parts[0] == DEFAULT:
        try:
            pwd.getpwnam(DEFAULT_USER)
        except KeyError:
            _add_user(DEFAULT_USER)
        _add_ranges(DEFAULT_USER)
        parts = [DEFAULT_USER, *parts[1:]]
    user = _user(parts[0])
    group = _group(parts[1]) if len(parts) == 2 else _group(
        str(user.pw_gid) if parts[0].isdigit() else user.pw_name)
    return user.pw_name, group


def _user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except KeyError:
        if name.isdigit():
            raise InvalidArgument(f"Uid {name} has no entry in /etc/passwd") from None
        raise InvalidArgument(f'Error during uid lookup for "{name}": user not found'
                              ) from None


def _group(name: str) -> str:
    try:
        return grp.getgrgid(int(name)).gr_name if name.isdigit() else grp.getgrnam(name).gr_name
    except KeyError:
        if name.isdigit():
            raise InvalidArgument(f"Gid {name} has no entry in /etc/group") from None
        raise InvalidArgument(f'Error during groupname lookup for "{name}": group not found'
                              ) from None


def _run(argv: list[str]) -> None:
    try:
        subprocess.run(argv, check=True, capture_output=True, text=True)
    except FileNotFoundError as err:
        raise BerthError(f"cannot add user: no {argv[0]} binary found") from err
    except subprocess.CalledProcessError as err:
        raise BerthError(f"{argv[0]} failed: {err.stderr.strip() or err.returncode}"
                         ) from err


def _add_user(name: str) -> None:
    log.info("userns-remap: adding system user %s", name)
    _run(["useradd", "-r", "-s", "/bin/false", name])


def _add_ranges(name: str) -> None:
    uid = pwd.getpwnam(name).pw_uid
    for path, flag in ((SUBUID, "-v"), (SUBGID, "-w")):
        text = _read(path)
        if not parse_subids(text, name, uid):
            start = next_free(text)
            _run(["usermod", flag, f"{start}-{start + RANGE_SIZE - 1}", name])


def load(value: str) -> Remap | None:
    """The remap ``--userns-remap value`` names; None for ``""`` or root (moby: "root
    cannot be remapped with itself; user namespaces are OFF")."""
    if not value:
        return None
    user, group = resolve(value)
    if user == "root":
        log.warning("User namespaces: root cannot be remapped with itself; user namespaces "
                    "are OFF")
        return None
    uid, gid = pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid
    uids = parse_subids(_read(SUBUID), user, uid)
    gids = parse_subids(_read(SUBGID), group, gid)
    if not uids:
        raise InvalidArgument(f'error creating ID mappings: No subuid ranges found for user '
                              f'"{user}"')
    if not gids:
        raise InvalidArgument(f'error creating ID mappings: No subgid ranges found for group '
                              f'"{group}"')
    log.info("User namespaces: ID ranges will be mapped to subuid/subgid ranges of: %s", user)
    return Remap(user, group, mapping(uids), mapping(gids))


# ── containers ───────────────────────────────────────────────────────────────────────

def remapped(remap: Remap | None, spec: ContainerSpec) -> bool:
    return remap is not None and spec.security.userns_mode != "host"


def user_namespace(remap: Remap, path: Path) -> SpecOpt:
    """The user namespace bound at ``path``, with the remap's maps (the runtimes join it;
    runc 1.1 wants the maps all the same). The shim sees the maps in config.json and
    mounts the rootfs layers idmapped with them (runtime/idmap.py)."""
    def opt(spec: oci.Spec) -> None:
        linux = spec["linux"]
        namespaces = [n for n in linux["namespaces"] if n["type"] != "user"]
        linux["namespaces"] = [{"type": "user", "path": str(path)}, *namespaces]
        linux["uidMappings"] = [{"containerID": r.container, "hostID": r.host,
                                 "size": r.size} for r in remap.uids]
        linux["gidMappings"] = [{"containerID": r.container, "hostID": r.host,
                                 "size": r.size} for r in remap.gids]
    return opt


class UsernsPreparer:
    """The remap's part of every create (moby's verifyPlatformContainerSettings checks)
    and start (the user namespace)."""

    def __init__(self, remap: Remap | None, exec_root: Path) -> None:
        self.remap = remap
        self._dir = exec_root / USERNS_DIR

    async def check(self, spec: ContainerSpec) -> ContainerSpec:
        if not remapped(self.remap, spec):
            return spec
        sec = spec.security
        if sec.privileged:
            raise InvalidArgument(
                "privileged mode is incompatible with user namespaces.  You must run the "
                "container in the host namespace when running privileged mode")
        if spec.network_mode == "host":
            raise InvalidArgument("cannot share the host's network namespace when user "
                                  "namespaces are enabled")
        if sec.pid_mode == "host":
            raise InvalidArgument("cannot share the host PID namespace when user "
                                  "namespaces are enabled")
        return spec

    async def prepare(self, container: Container) -> Sequence[SpecOpt]:
        """Bind a new user namespace at <exec-root>/userns/<id> before the network
        preparer makes the container's netns (inside it: an exec, which joins the user
        namespace first, could not join a netns of the host's user namespace, nor could
        the container mount sysfs)."""
        if self.remap is None or not remapped(self.remap, container.spec):
            return ()
        path = self._dir / container.id
        uids = ",".join(r.option() for r in self.remap.uids)
        gids = ",".join(r.option() for r in self.remap.gids)
        await asyncio.to_thread(self._hold, path, uids, gids)
        return (user_namespace(self.remap, path),)

    @staticmethod
    def _hold(path: Path, uids: str, gids: str) -> None:
        idmap.release_userns(path)  # a run killed before its release: start clean
        idmap.hold_userns(path, idmap.kernel_map(uids), idmap.kernel_map(gids))

    async def release(self, container: Container) -> None:
        await asyncio.to_thread(idmap.release_userns, self._dir / container.id)

    async def sweep(self, running: set[str]) -> None:
        """At berthd's start: drop the binds of containers no longer running (they
        stopped while berthd was down), as networking sweeps their netns."""
        try:
            names = await asyncio.to_thread(os.listdir, self._dir)
        except FileNotFoundError:
            return
        for name in names:
            if name not in running:
                await asyncio.to_thread(idmap.release_userns, self._dir / name)

    async def removed(self, container: Container, volumes: bool) -> None:
        return None


# The files berthd binds into a container from <data-root>/containers/<id> (networking's
# /etc files): docker makes them the remapped root's, so its root can edit /etc/hosts.
CONTAINER_FILES = ("hosts", "resolv.conf", "hostname")


class UsernsFilesPreparer:
    """After the other prepare hooks: hand the container's own /etc files to the
    remapped root (they are rewritten at each start, so at each start)."""

    def __init__(self, remap: Remap | None, data_root: Path) -> None:
        self.remap = remap
        self._containers = data_root / "containers"

    async def check(self, spec: ContainerSpec) -> ContainerSpec:
        return spec

    async def prepare(self, container: Container) -> Sequence[SpecOpt]:
        if self.remap is not None and remapped(self.remap, container.spec):
            await asyncio.to_thread(self._chown, self._containers / container.id,
                                    self.remap.root)
        return ()

    @staticmethod
    def _chown(directory: Path, owner: tuple[int, int]) -> None:
        for name in CONTAINER_FILES:
            with contextlib.suppress(FileNotFoundError):
                os.chown(directory / name, *owner, follow_symlinks=False)

    async def release(self, container: Container) -> None:
        return None

    async def removed(self, container: Container, volumes: bool) -> None:
        return None
