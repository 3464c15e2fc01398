"""The ``local`` volume driver (moby's ``volume/local``), on docker's layout::

    <data-root>/volumes/                 0701
        <name>/                          0701   the volume's root
            _data/                       0755   what containers mount (its mountpoint)

A volume without options is the ``_data`` directory itself. One created with ``-o``
(``type=``, ``device=``, ``o=``, as mount(8)'s ``-t``, the device and ``-o``) is a mount
made onto ``_data`` when a container first uses it and undone when its last user stops
(``type=tmpfs,device=tmpfs,o=size=64m``; ``type=none,o=bind,device=/path``). The driver
only mounts and counts nothing: who uses a volume is the service's to say.

Everything here blocks; the service calls it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path

from berth.errors import BerthError, InvalidArgument
from berth.runtime import host

NAME = "local"
DATA = "_data"

_VALID_OPTIONS = ("type", "o", "device", "size")
# an option → those it needs (docker's mandatoryOpts)
_MANDATORY = (("device", ("type",)), ("type", ("device",)), ("o", ("device", "type")))
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$", re.IGNORECASE)


def validate_options(options: Mapping[str, str]) -> None:
    """Refuse what docker's local driver refuses, in its words."""
    for key in options:
        if key not in _VALID_OPTIONS:
            raise InvalidArgument(f'invalid option: "{key}"')
    if "size" in options:
        if _parse_size(options["size"]) > 0:
            raise InvalidArgument("quota size requested but no quota support")
    for key, needs in _MANDATORY:
        if key in options:
            for need in needs:
                if need not in options:
                    raise InvalidArgument(f'missing required option: "{need}"')


def _parse_size(text: str) -> int:
    """go-units' RAMInBytes (binary multiples)."""
    m = _SIZE.match(text.strip())
    if not m:
        raise InvalidArgument(f"invalid size: '{text}'")
    return int(float(m.group(1)) * 1024 ** " kmgtp".index(m.group(2).lower() or " "))


def needs_mount(options: Mapping[str, str]) -> bool:
    return bool(options.get("device") or options.get("type"))


class LocalDriver:
    name = NAME

    def __init__(self, data_root: Path, owner: tuple[int, int] | None = None) -> None:
        self.root = data_root / "volumes"
        # --userns-remap: new volumes are the remapped root's (docker chowns them so)
        self.owner = owner

    def volume_root(self, name: str) -> Path:
        return self.root / name

    def path(self, name: str) -> Path:
        """The volume's mountpoint: what a container's mount binds."""
        return self.root / name / DATA

    def create(self, name: str, options: Mapping[str, str]) -> Path:
        """Make the volume's directories (kept if they exist); its mountpoint."""
        validate_options(options)
        self.root.mkdir(mode=0o701, parents=True, exist_ok=True)
        vroot = self.volume_root(name)
        vroot.mkdir(mode=0o701, exist_ok=True)
        data = self.path(name)
        with contextlib.suppress(FileExistsError):
            data.mkdir(mode=0o755)
            os.chmod(data, 0o755)  # past the umask, as docker's MkdirAllAndChown
            if self.owner is not None:
                os.chown(data, *self.owner)
        return data

    def remove(self, name: str) -> None:
        """Unmount the volume if mounted, then delete its directories. Refuses to delete
        anything that resolves outside the volumes directory, or a mount still there."""
        self.unmount(name)
        vroot = self.volume_root(name)
        real = os.path.realpath(vroot)
        base = os.path.realpath(self.root)
        if real == base or not real.startswith(base + os.sep):
            raise BerthError(f"unable to remove a directory outside of the local volume "
                             f"root {base}: {real}")
        if os.path.lexists(self.path(name)) and host.is_mount_point(self.path(name)):
            raise BerthError(f"volume {name} is still mounted at {self.path(name)}")
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(vroot)

    def mounted(self, name: str) -> bool:
        return host.is_mount_point(self.path(name))

    def mount(self, name: str, options: Mapping[str, str]) -> None:
        """Mount a volume with ``-o`` options onto its mountpoint unless it is mounted
        (docker's words on failure: ``failed to mount local volume: ...``)."""
        if not needs_mount(options) or self.mounted(name):
            return
        device = options.get("device", "")
        if not device:
            raise BerthError("missing device in volume options")
        data = self.path(name)
        data.mkdir(parents=True, exist_ok=True)
        try:
            host.mount_filesystem(device, str(data), options.get("type", ""),
                                  options.get("o", ""))
        except OSError as err:
            raise BerthError(f"failed to mount local volume: mount {device}:{data}, "
                             f"flags: {options.get('o', '')}: "
                             f"{os.strerror(err.errno) if err.errno else err}") from err

    def unmount(self, name: str) -> None:
        data = self.path(name)
        while os.path.isdir(data) and host.is_mount_point(data):
            host.unmount(str(data))

    def size(self, name: str) -> int:
        """Bytes of the files under the mountpoint (hard links counted once), as docker's
        ``directory.Size``."""
        seen: set[tuple[int, int]] = set()
        total = 0
        stack = [str(self.path(name))]
        while stack:
            try:
                entries = list(os.scandir(stack.pop()))
            except OSError:
                continue
            for e in entries:
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    stack.append(e.path)
                    continue
                if st.st_nlink > 1:
                    if (st.st_dev, st.st_ino) in seen:
                        continue
                    seen.add((st.st_dev, st.st_ino))
                total += st.st_size
        return total

    def names(self) -> list[str]:
        """The volume directories on disk (a crash may leave one without a record)."""
        try:
            return sorted(p.name for p in self.root.iterdir() if p.is_dir())
        except FileNotFoundError:
            return []

