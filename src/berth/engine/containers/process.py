"""Resolve what a container runs: argv, environment, working dir and user, from the
image config overlaid with the create request, exactly as docker combines them."""

from __future__ import annotations

import errno
import os

from berth.engine.containers.model import Container
from berth.errors import InvalidArgument, RuntimeFailure
from berth.oci.image import ContainerConfig
from berth.store.rootview import LayerTree

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
    """Image env overridden by the request's, keyed by name; PATH always present.

    A bare ``NAME`` stays as written (the daemon never fills it in: its own environment
    is not the client's, which docker's CLI has already consulted) and unsets the
    image's ``NAME`` in the process: see ``process_env``."""
    merged: dict[str, str] = {}
    for item in [*(image.get("Env") or []), f"HOSTNAME={hostname}",
                 *(["TERM=xterm"] if tty else []), *env]:
        key = item.split("=", 1)[0]
        if not key:
            raise InvalidArgument(f"invalid environment variable: {item}")
        merged[key] = item
    merged.setdefault("PATH", DEFAULT_PATH)
    return tuple(merged.values())


def process_env(env: tuple[str, ...] | list[str]) -> list[str]:
    """What the process gets: bare names are unset (moby's ReplaceOrAppendEnvValues)."""
    return [item for item in env if "=" in item]


def start_failure_code(message: str, default: int = 128) -> int:
    """docker's exit code for a process that could not start: 127 not found, 126 not
    executable, ``default`` anything else (128 for a container, 126 for an exec: moby's
    translateContainerdStartErr)."""
    lowered = message.lower()
    if "executable file not found" in lowered or "no such file or directory" in lowered:
        return 127
    if "permission denied" in lowered or "is a directory" in lowered:
        return 126
    return default


def working_dir(requested: str, image: ContainerConfig) -> str:
    wd = requested or image.get("WorkingDir") or "/"
    if not wd.startswith("/"):
        raise InvalidArgument(
            f"the working directory '{wd}' is invalid, it needs to be an absolute path")
    return os.path.normpath(wd)


def make_workdir(rootfs: LayerTree, path: str) -> None:
    """Create a missing working directory as docker does before a start: symlinks
    followed inside the rootfs, new directories in the container's writable layer."""
    try:
        rootfs.make_dirs(path)
    except NotADirectoryError as err:
        raise RuntimeFailure(f"Cannot mkdir: {path} is not a directory") from err
    except OSError as err:
        raise RuntimeFailure(f"cannot create the working directory {path}: {err}") from err


def _read(rootfs: LayerTree, path: str) -> bytes | None:
    """A file's content as the container would see it (symlinks followed inside the
    rootfs); None if it is missing or not a regular file."""
    try:
        with rootfs.open(path) as f:
            return f.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    except OSError as err:
        if err.errno == errno.EINVAL:  # not a regular file
            return None
        raise RuntimeFailure(f"unable to read {path}: {err.strerror}") from err


def resolve_user(user: str, rootfs: LayerTree) -> tuple[int, int, tuple[int, ...]]:
    """uid, gid and supplementary gids for ``name|uid[:group|gid]`` (runc's user lookup)."""
    name, _, group = (user or "0").partition(":")
    passwd = _entries(_read(rootfs, "/etc/passwd"))
    groups = _entries(_read(rootfs, "/etc/group"))
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


def config_env(c: Container) -> tuple[str, ...]:
    """docker's Config.Env (inspect, commit, a link's <ALIAS>_ENV_*): the resolved env
    without the HOSTNAME and TERM the daemon adds at start, unless the request gave
    them."""
    given = {v.split("=", 1)[0] for v in c.spec.env}
    added = {f"HOSTNAME={c.hostname}", "TERM=xterm"}
    return tuple(v for v in c.env if v not in added or v.split("=", 1)[0] in given)
