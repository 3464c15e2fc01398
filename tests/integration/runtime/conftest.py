"""Fixtures for the runtime integration tests: a minimal OCI spec, a NativeRuntime whose
containers are always deleted, and a helper that runs a container and captures output."""

from __future__ import annotations

import errno
import json
import os
import selectors
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from berth.runtime import Stdio
from berth.runtime.linux.runtime import NativeRuntime
from berth.runtime.spec import DEFAULT_CAPABILITIES

CGROUP_PARENT = "berth-test"
CGROUP_ROOT = Path("/sys/fs/cgroup")

pytestmark = pytest.mark.root


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.geteuid() != 0:
        for item in items:
            item.add_marker(pytest.mark.skip(reason="needs root"))


def minimal_spec(rootfs: Path, args: list[str], **overrides: Any) -> dict[str, Any]:
    """A small valid spec close to what docker generates (not the engine's spec builder)."""
    name = f"{CGROUP_PARENT}/{uuid.uuid4().hex[:12]}"
    spec: dict[str, Any] = {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/root"],
            "cwd": "/",
            "capabilities": {k: list(DEFAULT_CAPABILITIES) for k in
                             ("bounding", "effective", "permitted")},
            "noNewPrivileges": True,
        },
        "root": {"path": str(rootfs), "readonly": False},
        "hostname": "berthbox",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                         "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in
                           ("pid", "network", "ipc", "uts", "mount", "cgroup")],
            "cgroupsPath": "/" + name,
            "resources": {},
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware",
                            "/proc/acpi", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"],
        },
    }
    for key, value in overrides.items():
        spec[key] = value
    return spec


def write_bundle(bundle: Path, spec: dict[str, Any]) -> Path:
    bundle.mkdir(parents=True, exist_ok=True)
    (bundle / "config.json").write_text(json.dumps(spec))
    return bundle


@dataclass
class Result:
    status: int  # os.waitstatus_to_exitcode: negative for a signal
    stdout: str
    stderr: str


class Runner:
    """Creates containers through one NativeRuntime and guarantees their removal."""

    def __init__(self, runtime: NativeRuntime, tmp: Path) -> None:
        self.runtime = runtime
        self.tmp = tmp
        self.ids: list[str] = []
        self.pids: list[int] = []

    def bundle(self, spec: dict[str, Any]) -> Path:
        return write_bundle(self.tmp / f"bundle-{uuid.uuid4().hex[:8]}", spec)

    def create(self, spec: dict[str, Any], stdio: Stdio) -> tuple[str, int]:
        cid = f"berth-test-{uuid.uuid4().hex[:10]}"
        self.ids.append(cid)
        pid = self.runtime.create(cid, self.bundle(spec), stdio)
        self.pids.append(pid)
        return cid, pid

    def run(self, spec: dict[str, Any], timeout: float = 20) -> Result:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        null = os.open("/dev/null", os.O_RDONLY)
        try:
            cid, pid = self.create(spec, Stdio(null, out_w, err_w))
        finally:
            for fd in (out_w, err_w, null):
                os.close(fd)
        try:
            self.runtime.start(cid)
            out, err = _drain(out_r, err_r, pid, timeout)
            _, status = os.waitpid(pid, 0)
        finally:
            os.close(out_r)
            os.close(err_r)
        return Result(os.waitstatus_to_exitcode(status), out, err)

    def cleanup(self) -> None:
        for cid in self.ids:
            self.runtime.delete(cid)
        for pid in self.pids:
            _reap(pid)


def _drain(out_fd: int, err_fd: int, pid: int, timeout: float) -> tuple[str, str]:
    chunks: dict[int, list[bytes]] = {out_fd: [], err_fd: []}
    sel = selectors.DefaultSelector()
    for fd in chunks:
        sel.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    open_fds = set(chunks)
    while open_fds:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)  # our own container init
            raise TimeoutError("container did not finish")
        for key, _ in sel.select(0.2):
            data = os.read(key.fd, 65536)
            if data:
                chunks[key.fd].append(data)
            else:
                sel.unregister(key.fd)
                open_fds.discard(key.fd)
    sel.close()
    return b"".join(chunks[out_fd]).decode(), b"".join(chunks[err_fd]).decode()


def _reap(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


@pytest.fixture(scope="session", autouse=True)
def _remove_cgroup_parent():
    # Each container removes its own cgroup; the shared parent goes once it is empty
    # (another test session on this host may still be using it).
    yield
    for controller in CGROUP_ROOT.iterdir():
        try:
            (controller / CGROUP_PARENT).rmdir()
        except OSError as err:
            if err.errno not in (errno.ENOENT, errno.ENOTEMPTY, errno.EBUSY, errno.ENOTDIR):
                raise


@pytest.fixture
def runner(tmp_path: Path):
    runtime = NativeRuntime(state_root=tmp_path / "state")
    r = Runner(runtime, tmp_path)
    try:
        yield r
    finally:
        r.cleanup()


@pytest.fixture
def make_spec(busybox_rootfs: Path):
    """make_spec(args, **top_level_overrides) → a spec dict over this test's busybox rootfs."""

    def make(args: list[str], **overrides: Any) -> dict[str, Any]:
        return minimal_spec(busybox_rootfs, args, **overrides)

    return make
