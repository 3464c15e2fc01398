"""Fixtures for driving real shims: a busybox rootfs, OCI bundles, a ShimManager.

Everything a test starts is recorded (shim and init pids, cgroups, runtime state, tmp dirs)
and removed at teardown even when the test fails."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from berth.oci.mount import Mount
from berth.runtime.shim import ShimOptions
from berth.runtime.shim.client import ShimManager

BUSYBOX = "/usr/bin/busybox"
CGROUP_PARENT = "berth-test"


def native_available() -> bool:
    try:
        import berth.runtime.linux.runtime  # noqa: F401
    except ImportError:
        return False
    return True


RUNTIMES = [
    pytest.param("runc", marks=pytest.mark.skipif(not shutil.which("runc"), reason="no runc")),
    pytest.param("crun", marks=pytest.mark.skipif(not shutil.which("crun"), reason="no crun")),
    pytest.param("native", marks=pytest.mark.skipif(not native_available(),
                                                    reason="NativeRuntime not there yet")),
]


@pytest.fixture(autouse=True)
def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")


@pytest.fixture(scope="session")
def busybox_rootfs() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="bbfs-", dir="/tmp"))
    for name in ("bin", "dev", "proc", "sys", "tmp", "etc", "root"):
        (root / name).mkdir()
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, check=True, text=True)
    for applet in applets.stdout.split():
        if applet != "busybox":
            (root / "bin" / applet).symlink_to("busybox")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\ntty:x:5:\n")
    yield root
    shutil.rmtree(root)


def make_spec(args: list[str], tty: bool, cgroups_path: str) -> dict[str, object]:
    return {
        "ociVersion": "1.0.2",
        "process": {"terminal": tty, "user": {"uid": 0, "gid": 0}, "args": args,
                    "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"], "cwd": "/",
                    "noNewPrivileges": True},
        "root": {"path": "rootfs", "readonly": False},
        "hostname": "shimtest",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                         "gid=5"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "mount", "uts", "ipc", "network")],
            "cgroupsPath": cgroups_path,
        },
    }


@dataclass
class Harness:
    """Builds containers for one runtime and remembers what to clean up."""

    runtime: str
    rootfs: Path
    tmp: Path
    exec_root: Path
    created: list[ShimOptions] = field(default_factory=list)

    def options(self, args: list[str], *, tty: bool = False, open_stdin: bool = False,
                stdin_once: bool = False, log: bool = True) -> ShimOptions:
        cid = uuid.uuid4().hex[:12]
        bundle = self.tmp / "bundles" / cid
        upper, work = bundle / "upper", bundle / "work"
        for path in (upper, work):
            path.mkdir(parents=True)
        import json

        (bundle / "config.json").write_text(json.dumps(
            make_spec(args, tty, f"/{CGROUP_PARENT}/{cid}")))
        overlay = Mount("overlay", "overlay", (f"lowerdir={self.rootfs}", f"upperdir={upper}",
                                               f"workdir={work}"))
        opts = ShimOptions(container_id=cid, bundle=bundle, rootfs_mounts=(overlay,),
                           state_dir=self.exec_root / "containers" / cid,
                           log_path=bundle / "json.log" if log else None,
                           runtime=self.runtime, tty=tty, open_stdin=open_stdin,
                           stdin_once=stdin_once)
        self.created.append(opts)
        return opts

    async def manager(self) -> ShimManager:
        """A started ShimManager: the test's stand-in for berthd."""
        manager = ShimManager(self.exec_root)
        await manager.start()
        return manager

    def cleanup(self) -> None:
        for opts in self.created:
            for name in ("init.pid", "shim.pid"):  # the container first, then its shim
                _kill_recorded(opts.state_dir / name)
            _remove_cgroup(f"{CGROUP_PARENT}/{opts.container_id}")
            if self.runtime in ("runc", "crun"):
                subprocess.run([self.runtime, "--root",
                                str(self.exec_root / "runtime" / self.runtime),
                                "delete", "--force", opts.container_id],
                               capture_output=True, check=False)
        _remove_cgroup(CGROUP_PARENT)
        shutil.rmtree(self.tmp, ignore_errors=True)


def _kill_recorded(pid_file: Path) -> None:
    try:
        pid = int(pid_file.read_text())
    except (FileNotFoundError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    for _ in range(200):
        if not alive(pid):
            return
        time.sleep(0.01)


def alive(pid: int) -> bool:
    """Running, not merely a zombie: an in-process NativeRuntime test makes pytest a child
    subreaper, so a dead process may wait, unreaped, under this very process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _remove_cgroup(relative: str) -> None:
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        path = hierarchy / relative
        if path.is_dir():
            try:
                path.rmdir()
            except OSError:
                pass  # still in use by another test's container; its teardown retries


@pytest.fixture(params=RUNTIMES)
def harness(request: pytest.FixtureRequest, busybox_rootfs: Path) -> Iterator[Harness]:
    tmp = Path(tempfile.mkdtemp(prefix="bs-", dir="/tmp"))
    h = Harness(request.param, busybox_rootfs, tmp, tmp / "run")
    try:
        yield h
    finally:
        h.cleanup()

