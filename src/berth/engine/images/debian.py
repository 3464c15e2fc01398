"""The ``debian[:SUITE]`` recipe: ``debootstrap --variant=minbase SUITE`` from a Debian
mirror (the request's, the daemon's ``bootstrap_mirror``, the host's apt source, or
deb.debian.org), trimmed as the official image's builder (debuerreotype) trims it, and
written as one layer with Cmd ``bash``.

Trimming: /dev, /proc and /sys emptied; apt's caches and /var/lib/apt/lists emptied;
the logs of the install, ``*-old`` backups and ldconfig's aux-cache removed;
/etc/hostname and /etc/resolv.conf removed (the runtime binds its own); the official
image's ``docker-*`` apt and dpkg settings added (apt cleans its caches after installs,
no translations).

Determinism: SOURCE_DATE_EPOCH is taken from the packages themselves: the newest mtime in
the trimmed tree that predates the run. Files unpacked from .debs keep their build times;
whatever debootstrap and the maintainer scripts wrote is newer and is clamped to the
epoch, as is /etc/shadow's "last changed" day. So the same package versions from the
same mirror URL (it is written into /etc/apt/sources.list) give the same layer digest.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from berth.errors import BerthError
from berth.store.diff import write_diff

from . import debootstrap
from .apt_sources import check_mirror, host_mirror
from .recipe import BaseLayer, BootstrapProgress, LayerSource, Writable

_REMOVE = ("etc/hostname", "etc/resolv.conf", "var/log/dpkg.log", "var/log/bootstrap.log",
           "var/log/alternatives.log", "var/cache/ldconfig/aux-cache", "run/mount/utab")
_REMOVE_GLOBS = ("var/lib/dpkg/*-old", "var/cache/debconf/*-old")
_EMPTIED = ("dev", "proc", "sys")  # everything under them goes
_FILES_REMOVED = ("var/cache/apt", "var/lib/apt/lists")  # files go, directories stay
_SHADOW = ("etc/shadow", "etc/shadow-")
_APT_CLEAN = ("rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb "
              "/var/cache/apt/*.bin || true")
_SETTINGS = {  # the official image's (debuerreotype-minimizing-config)
    "etc/apt/apt.conf.d/docker-clean":
        f'DPkg::Post-Invoke {{ "{_APT_CLEAN}"; }};\n'
        f'APT::Update::Post-Invoke {{ "{_APT_CLEAN}"; }};\n'
        'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n',
    "etc/apt/apt.conf.d/docker-no-languages": 'Acquire::Languages "none";\n',
    "etc/apt/apt.conf.d/docker-autoremove-suggests":
        'Apt::AutoRemove::SuggestsImportant "false";\n',
    "etc/dpkg/dpkg.cfg.d/docker-apt-speedup": "force-unsafe-io\n",
}


@dataclass(frozen=True)
class DebianRecipe:
    suite: str
    mirror: str  # empty: the host's apt source
    workdir: Path

    @staticmethod
    def suite_of(tag: str | None) -> str:
        return "stable" if tag in (None, "latest") else str(tag)

    @asynccontextmanager
    async def build(self, progress: BootstrapProgress) -> AsyncIterator[LayerSource]:
        mirror = check_mirror(self.mirror) if self.mirror \
            else await asyncio.to_thread(host_mirror, self.suite)
        debootstrap.binary()
        debootstrap.check_suite(self.suite)
        await debootstrap.check_mirror(mirror, self.suite)
        await progress(f"Bootstrapping Debian {self.suite} from {mirror} "
                       "with debootstrap --variant=minbase")
        async with debootstrap.scratch(self.workdir) as target:
            started = time.time()
            await debootstrap.run(debootstrap.DebootstrapOptions(self.suite, mirror, target),
                                  progress)
            await progress("Trimming the tree as the official debian image is trimmed")
            epoch = await asyncio.to_thread(trim, target, int(started))
            yield DebianLayer(target, epoch, f"berth bootstrap: debootstrap "
                                             f"--variant=minbase {self.suite} {mirror}")


@dataclass(frozen=True)
class DebianLayer:
    tree: Path
    epoch: int
    created_by: str

    def write(self, out: Writable) -> BaseLayer:
        for chunk in write_diff(self.tree):
            out.write(chunk)
        return BaseLayer(mtime=self.epoch, cmd=("bash",), created_by=self.created_by)


def trim(root: Path, started: int) -> int:
    """Trim the debootstrapped ``root`` in place; return its epoch (see the docstring)."""
    if debootstrap.mounts_under(root):
        raise BerthError(f"debootstrap left mounts under {root}")
    doomed = [root / p for p in _REMOVE] + [p for g in _REMOVE_GLOBS for p in root.glob(g)]
    for path in doomed:
        _remove(path)
    for name in _EMPTIED:
        (root / name).mkdir(exist_ok=True)
        for child in (root / name).iterdir():
            _remove(child)
    for name in _FILES_REMOVED:
        for dirpath, _, files in os.walk(root / name):
            for file in files:
                os.unlink(os.path.join(dirpath, file))
    for name, text in _SETTINGS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
        os.chmod(root / name, 0o644)
    epoch = _package_epoch(root, started)
    for name in _SHADOW:
        _set_last_changed(root / name, epoch // 86400)
    _clamp(root, epoch)
    return epoch


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


def _walk(root: Path) -> list[str]:
    """Every path under ``root`` (not following symlinks), ``root`` included."""
    paths = [str(root)]
    for dirpath, dirs, files in os.walk(root):
        paths += [os.path.join(dirpath, n) for n in dirs + files]
    return paths


def _package_epoch(root: Path, started: int) -> int:
    """The newest mtime of a non-directory older than the run: the newest package file."""
    newest = 0
    for path in _walk(root):
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode) and int(st.st_mtime) < started:
            newest = max(newest, int(st.st_mtime))
    return newest or started


def _set_last_changed(path: Path, day: int) -> None:
    """Set the "date of last password change" (field 3) of each shadow entry to ``day``."""
    if not path.is_file():
        return
    lines = []
    for line in path.read_text().splitlines():
        fields = line.split(":")
        if len(fields) > 2 and fields[2].isdigit():
            fields[2] = str(day)
        lines.append(":".join(fields))
    with open(path, "r+") as f:  # in place: keeps the file's mode and owner
        f.write("".join(f"{line}\n" for line in lines))
        f.truncate()


def _clamp(root: Path, epoch: int) -> None:
    ns = epoch * 1_000_000_000
    for path in _walk(root):
        if os.lstat(path).st_mtime_ns > ns:
            os.utime(path, ns=(ns, ns), follow_symlinks=False)
