"""The engine's handle on a created container: a ``Task`` (containerd's word), and the
``TaskManager`` that makes them.

berthd talks to a running container only through these Protocols, never through the
shim client's classes: ``runtime.shim.client.Shim`` and ``ShimManager`` satisfy them
structurally, and a fake can stand in. One task is one run of a container::

    TaskManager.create(opts) ─▶ Task (init created, blocked before exec)
        attach(...) ─▶ start() ─▶ kill / pause / resume / resize / exec_* ─▶ wait()
                                                                  ─▶ ExitStatus, close()
    TaskManager.connect(state_dir)   the task of a running container after a daemon
                                     restart, or None when its shim is gone
    TaskManager.reap(state_dir)      after ``ShimDied``: delete what the shim left
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

from berth.oci.spec import Process
from berth.runtime.shim import ExitStatus, ShimOptions

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Task(Protocol):
    @property
    def init_pid(self) -> int:
        """The host pid of the container's init."""
        ...

    async def start(self) -> None:
        """Let init exec the container's process."""
        ...

    async def kill(self, signal: int) -> None:
        """Signal init; a no-op once the container has exited."""
        ...

    async def wait(self) -> ExitStatus:
        """The exit, once the container has exited (any number may wait). Raises
        ``ShimDied`` if the monitor died without recording it."""
        ...

    async def resize(self, height: int, width: int) -> None: ...

    async def pause(self) -> None:
        """Freeze the container; returns once every task is frozen."""
        ...

    async def resume(self) -> None: ...

    async def exec_create(self, exec_id: str, process: Process, tty: bool,
                          open_stdin: bool) -> None:
        """Register an exec; nothing runs until ``exec_start``."""
        ...

    async def exec_start(self, exec_id: str) -> int:
        """Run the exec; its host pid."""
        ...

    async def exec_wait(self, exec_id: str) -> int:
        """The exec's exit code, once it exited and its output drained."""
        ...

    async def exec_resize(self, exec_id: str, height: int, width: int) -> None: ...

    async def attach(self, stdin: bool, stdout: bool, stderr: bool,
                     exec_id: str | None = None) -> Streams:
        """The container's (or an exec's) streams, from now on."""
        ...

    async def close(self) -> None:
        """Let go of the handle; the container keeps running."""
        ...


class TaskManager(Protocol):
    async def create(self, opts: ShimOptions) -> Task: ...

    async def connect(self, state_dir: Path) -> Task | None: ...

    async def reap(self, state_dir: Path) -> None: ...
