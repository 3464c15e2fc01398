"""Images made from the host instead of a registry: ``busybox`` from Debian's static
busybox (``/bin/busybox``), one applet symlink per ``busybox --list-full`` line.

The layer is deterministic: entries sorted, owners 0/0, no user/group names, and every mtime
(and the config's ``created``) taken from the busybox binary, so bootstrapping twice on one
host gives the same diff_id and image ID.
"""

from __future__ import annotations

import io
import platform
import subprocess
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from berth.errors import BerthError, InvalidArgument
from berth.oci.image import ImageConfig
from berth.oci.reference import Reference

BUSYBOX = Path("/bin/busybox")
SUPPORTED = ("busybox",)
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

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
_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
           "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x",
           "riscv64": "riscv64"}


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


def check_supported(ref: Reference) -> None:
    if ref.domain != "docker.io" or ref.familiar_name() not in SUPPORTED or ref.digest:
        raise InvalidArgument(
            f"cannot bootstrap {ref.familiar()}: supported images are {', '.join(SUPPORTED)}"
        )


def architecture() -> str:
    machine = platform.machine()
    return _ARCHES.get(machine, machine)


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


def write_busybox_layer(out: _Writable, busybox: Path = BUSYBOX) -> int:
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


def busybox_config(diff_id: str, mtime: int) -> ImageConfig:
    created = datetime.fromtimestamp(mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "architecture": architecture(),
        "os": "linux",
        "created": created,
        "config": {"Env": [PATH_ENV], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created,
                     "created_by": f"berth bootstrap: host {BUSYBOX} and its applets"}],
    }
