"""Run one bundle through a runc-compatible command line (``runc`` or ``berth-runtime``)
the way containerd does: ``create`` (detached, stdio to files), look at the created
container from the host, ``start``, wait for init to exit, ``delete``. Everything is
deleted (``delete --force``) whatever happens."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RUNC = shutil.which("runc") or "/usr/sbin/runc"
BERTH = [sys.executable, "-m", "berth.runtime.linux.cli"]

Inspect = Callable[[int, dict[str, Any]], dict[str, Any]]


@dataclass
class Outcome:
    create_rc: int
    create_err: str  # the runtime's own stderr at create (init inherits it too)
    output: str = ""  # the container's stdout
    stderr: str = ""  # the container's stderr (after create)
    delete_err: str = ""
    seen: dict[str, Any] = field(default_factory=dict)  # what inspect() found while created
    cid: str = ""

    @property
    def message(self) -> str:
        """The error's text whatever the log format (runc logs through logrus)."""
        return error_text(self.create_err)


def error_text(stderr: str) -> str:
    found = re.findall(r'msg="((?:[^"\\]|\\.)*)"', stderr)
    text = " | ".join(found) if found else stderr
    return text.replace('\\"', '"').replace("\\\\", "\\")


class Flow:
    def __init__(self, name: str, argv: list[str], tmp: Path) -> None:
        self.name = name
        self.argv = argv
        self.root = tmp / f"state-{name}"
        self.tmp = tmp

    def cli(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.argv, "--root", str(self.root), *args],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              timeout=timeout, check=False)

    def run(self, spec: dict[str, Any], inspect: Inspect | None = None,
            timeout: float = 20) -> Outcome:
        work = self.tmp / f"{self.name}-{uuid.uuid4().hex[:8]}"
        work.mkdir()
        (work / "config.json").write_text(json.dumps(spec))
        cid = f"berth-spec-{self.name}-{uuid.uuid4().hex[:8]}"
        out, err, pid_file = work / "out", work / "err", work / "pid"
        try:
            with open(out, "w") as o, open(err, "w") as e:
                created = subprocess.run(
                    [*self.argv, "--root", str(self.root), "create", "--bundle", str(work),
                     "--pid-file", str(pid_file), cid],
                    stdout=o, stderr=e, stdin=subprocess.DEVNULL, timeout=30, check=False)
            result = Outcome(created.returncode, err.read_text(), cid=cid)
            if created.returncode != 0:
                return result
            size = err.stat().st_size
            pid = int(pid_file.read_text())
            if inspect is not None:
                result.seen = inspect(pid, spec)
            started = self.cli("start", cid)
            assert started.returncode == 0, started.stderr
            _wait_gone(pid, timeout)
            result.output = out.read_text()
            result.stderr = err.read_text()[size:]
            deleted = self.cli("delete", cid)
            result.delete_err = deleted.stderr
            return result
        finally:
            self.cli("delete", "--force", cid)


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, 9)  # the init this flow created
            raise TimeoutError(f"container init {pid} did not exit")
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2:][:1] not in (b"Z", b"X")
