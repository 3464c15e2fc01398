"""Resolve what a container runs: argv, environment, working dir and user, from the
image config overlaid with the create request, exactly as docker combines them."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from berth.errors import InvalidArgument, RuntimeFailure
from berth.oci.image import ContainerConfig
from berth.oci.mount import Mount

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def command(entrypoint: tuple[str, ...] | None, cmd: tuple[str, ...] | None,
            image: ContainerConfig) -> tuple[str, ...]:
    """Entrypoint + cmd: an entrypoint given at create drops the image's Cmd."""
    if entrypoint == ("",):
        entrypoint = ()  # `--entrypoint ""` resets it
    if entrypoint is not None:
        argv = list(entrypoint) + list(cmd or ())
    else:
        argv = list(image.get("Entrypoint") or []) + list(
            cmd if cmd is not None else image.get("Cmd") or [])
    if not argv:
        raise InvalidArgument("no command specified")
    return tuple(argv)


def environment(image: ContainerConfig, env: tuple[str, ...], hostname: str,
                tty: bool) -> tuple[str, ...]:
    """Image env overridden by the request's, keyed by name; PATH always present."""
    merged: dict[str, str] = {}
    for item in [*(image.get("Env") or []), f"HOSTNAME={hostname}",
                 *(["TERM=xterm"] if tty else []), *env]:
        key = item.split("=", 1)[0]
        if not key:
            raise InvalidArgument(f"invalid environment variable: {item}")
        merged[key] = item if "=" in item else f"{key}={os.environ.get(key, '')}"
    merged.setdefault("PATH", DEFAULT_PATH)
    return tuple(merged.values())


def working_dir(requested: str, image: ContainerConfig) -> str:
    wd = requested or image.get("WorkingDir") or "/"
    if not wd.startswith("/"):
        raise InvalidArgument(
            f"the working directory '{wd}' is invalid, it needs to be an absolute path")
    return os.path.normpath(wd)


@dataclass(frozen=True)
class Rootfs:
    """Read-side view of a prepared (unmounted) rootfs: its layer directories, top first."""

    layers: tuple[Path, ...]
    writable: Path

    @classmethod
    def from_mounts(cls, mounts: list[Mount]) -> Rootfs:
        if len(mounts) != 1:
            raise InvalidArgument(f"unsupported rootfs of {len(mounts)} mounts")
        m = mounts[0]
        if m.type == "bind":
            return cls(layers=(Path(m.source),), writable=Path(m.source))
        opts = dict(o.split("=", 1) for o in m.options if "=" in o)
        upper = Path(opts["upperdir"])
        lowers = tuple(Path(p) for p in opts.get("lowerdir", "").split(":") if p)
        return cls(layers=(upper, *lowers), writable=upper)

    def read(self, relpath: str) -> bytes | None:
        """A file's content as the merged rootfs shows it (overlay whiteouts honoured)."""
        for layer in self.layers:
            candidate = layer / relpath
            try:
                st = candidate.lstat()
            except FileNotFoundError:
                continue
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                return None  # whiteout: deleted in an upper layer
            if stat.S_ISREG(st.st_mode):
                return candidate.read_bytes()
            return None
        return None

    def make_dir(self, path: str) -> None:
        """Create ``path`` in the writable layer (docker creates a missing WORKDIR)."""
        target = self.writable / path.lstrip("/")
        if not self._exists_as_dir(path):
            target.mkdir(parents=True, exist_ok=True, mode=0o755)

    def _exists_as_dir(self, path: str) -> bool:
        return any((layer / path.lstrip("/")).is_dir() for layer in self.layers)


def resolve_user(user: str, rootfs: Rootfs) -> tuple[int, int, tuple[int, ...]]:
    """uid, gid and supplementary gids for ``name|uid[:group|gid]`` (runc's user lookup)."""
    name, _, group = (user or "0").partition(":")
    passwd = _entries(rootfs.read("etc/passwd"))
    groups = _entries(rootfs.read("etc/group"))
    uid, gid, login = _lookup_user(name, passwd)
    if group:
        gid = _lookup_group(group, groups)
    extra = tuple(int(g[2]) for g in groups
                  if len(g) > 3 and login and login in g[3].split(",") and int(g[2]) != gid)
    return uid, gid, extra


def _entries(content: bytes | None) -> list[list[str]]:
    if not content:
        return []
    return [line.split(":") for line in content.decode(errors="replace").splitlines()
            if line and not line.startswith("#")]


def _lookup_user(name: str, passwd: list[list[str]]) -> tuple[int, int, str]:
    for entry in passwd:
        if len(entry) >= 4 and (entry[0] == name or entry[2] == name):
            return int(entry[2]), int(entry[3]), entry[0]
    if name.isdigit():
        return int(name), 0, ""
    raise RuntimeFailure(
        f"unable to find user {name}: no matching entries in passwd file")


def _lookup_group(group: str, groups: list[list[str]]) -> int:
    for entry in groups:
        if len(entry) >= 3 and (entry[0] == group or entry[2] == group):
            return int(entry[2])
    if group.isdigit():
        return int(group)
    raise RuntimeFailure(f"unable to find group {group}: no matching entries in group file")
