"""The ``busybox`` recipe: Debian's static busybox (``/bin/busybox``) with one applet symlink
per ``busybox --list-full`` line, and the official image's passwd and group files.

Every mtime (and so the image's ``created``) is the busybox binary's, so bootstrapping twice
on one host gives the same diff_id and image ID.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from berth.errors import BerthError

from .recipe import BaseLayer, BootstrapProgress, LayerSource, Writable

BUSYBOX = Path("/bin/busybox")

# The official image's files (docker-library/busybox copies buildroot's
# system/skeleton/etc/{passwd,group}): no uid 1000, so a Dockerfile's own user gets that id.
PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
GROUP = """\
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
"""
# directory → mode; parents of applets are added with 0755. The users' home directories
# exist, owned by them, as the official image makes them.
DIRS = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o555,
        "root": 0o700, "sbin": 0o755, "sys": 0o555, "tmp": 0o1777, "usr": 0o755,
        "usr/bin": 0o755, "usr/sbin": 0o755, "var": 0o755, "var/spool": 0o755,
        "var/spool/mail": 0o755, "var/www": 0o755}
OWNERS = {"var/spool/mail": 8, "var/www": 33}  # directory → uid (and gid) of its user


@dataclass(frozen=True)
class BusyboxRecipe:
    busybox: Path = BUSYBOX

    @asynccontextmanager
    async def build(self, progress: BootstrapProgress) -> AsyncIterator[LayerSource]:
        if not self.busybox.exists():
            raise BerthError(f"cannot bootstrap busybox: {self.busybox} is missing "
                             "(install Debian's busybox-static)")
        await progress(f"Bootstrapping busybox from the host's {self.busybox}")
        yield self

    def write(self, out: Writable) -> BaseLayer:
        mtime = write_busybox_layer(out, self.busybox)
        return BaseLayer(mtime=mtime, cmd=("sh",),
                         created_by=f"berth bootstrap: host {self.busybox} and its applets")


def _applets(busybox: Path) -> list[str]:
    try:
        out = subprocess.run([str(busybox), "--list-full"], capture_output=True, check=True,
                             text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as err:
        raise BerthError(f"cannot list busybox applets of {busybox}: {err}") from err
    return sorted({line.strip().lstrip("/") for line in out.splitlines() if line.strip()})


def _entry(name: str, kind: bytes, mode: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = kind, mode, mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def write_busybox_layer(out: Writable, busybox: Path = BUSYBOX) -> int:
    """Write the busybox rootfs layer (uncompressed tar) to ``out``; return its mtime."""
    mtime = int(busybox.stat().st_mtime)
    applets = [a for a in _applets(busybox) if a != "bin/busybox"]
    dirs = dict(DIRS)
    for applet in applets:
        parent = applet.rpartition("/")[0]
        while parent:
            dirs.setdefault(parent, 0o755)
            parent = parent.rpartition("/")[0]
    entries: dict[str, tuple[tarfile.TarInfo, bytes | None]] = {}
    for path, mode in dirs.items():
        info = _entry(path, tarfile.DIRTYPE, mode, mtime)
        info.uid = info.gid = OWNERS.get(path, 0)
        entries[path] = (info, None)
    for applet in applets:
        info = _entry(applet, tarfile.SYMTYPE, 0o777, mtime)
        info.linkname = "/bin/busybox"
        entries[applet] = (info, None)
    entries["bin/busybox"] = (_entry("bin/busybox", tarfile.REGTYPE, 0o755, mtime),
                              busybox.read_bytes())
    entries["etc/passwd"] = (_entry("etc/passwd", tarfile.REGTYPE, 0o644, mtime),
                             PASSWD.encode())
    entries["etc/group"] = (_entry("etc/group", tarfile.REGTYPE, 0o644, mtime), GROUP.encode())
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:  # type: ignore[call-overload]
        for name in sorted(entries):
            info, data = entries[name]
            if data is None:
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return mtime
