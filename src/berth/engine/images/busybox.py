"""The ``busybox`` recipe: Debian's static busybox (``/bin/busybox``) with one applet symlink
per ``busybox --list-full`` line, a passwd and a group file.

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

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""
GROUP = """\
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
tty:x:5:
user:x:1000:
nogroup:x:65534:
"""
# directory → mode; parents of applets are added with 0755
DIRS = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o555,
        "root": 0o700, "sbin": 0o755, "sys": 0o555, "tmp": 0o1777, "usr": 0o755,
        "usr/bin": 0o755, "usr/sbin": 0o755, "var": 0o755, "home/user": 0o755}


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
        entries[path] = (_entry(path, tarfile.DIRTYPE, mode, mtime), None)
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
