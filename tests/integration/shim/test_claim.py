"""The shim answers ``wait`` before it deletes the container from its runtime: a start of
the same container right after the answer must still get a clean cgroup and reachable
sockets, and the remains of a shim that died before deleting are cleaned by the next one."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
from tests.integration.shim.conftest import CGROUP_PARENT, alive

from berth.formats.stdcopy import FrameDecoder

pytestmark = pytest.mark.root

run = asyncio.run


def _cgroup_dirs(container_id: str) -> list[Path]:
    return [h / CGROUP_PARENT / container_id for h in Path("/sys/fs/cgroup").iterdir()
            if (h / CGROUP_PARENT / container_id).is_dir()]


def test_start_again_right_after_wait(harness) -> None:
    opts = harness.options(["sh", "-c", "echo run; exit 4"])

    async def scenario() -> list[tuple[int, bytes]]:
        manager = await harness.manager()
        results = []
        try:
            for _ in range(5):  # each create races the previous shim's delete
                shim = await manager.create(opts)
                reader, _writer = await shim.attach(stdin=False, stdout=True, stderr=True)
                await shim.start()
                status = await shim.wait()
                output = await asyncio.wait_for(reader.read(), 20)
                await shim.close()
                results.append((status.exit_code, output))
        finally:
            await manager.close()
        return results

    results = run(scenario())
    assert [code for code, _ in results] == [4] * 5
    assert all(FrameDecoder().feed(out) == [(1, b"run\n")] for _, out in results)
    deadline = time.monotonic() + 10  # the last shim deletes after answering
    while _cgroup_dirs(opts.container_id) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _cgroup_dirs(opts.container_id) == []


def test_next_shim_deletes_what_a_killed_shim_left(harness) -> None:
    opts = harness.options(["sleep", "100"])

    async def first() -> tuple[int, int]:
        manager = await harness.manager()
        try:
            shim = await manager.create(opts)
            await shim.start()
            await shim.close()
            return shim.shim_pid, shim.init_pid
        finally:
            await manager.close()

    shim_pid, init_pid = run(first())
    os.kill(shim_pid, signal.SIGKILL)  # no delete: cgroup, runtime state, init remain
    deadline = time.monotonic() + 10
    while alive(shim_pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert alive(init_pid) and _cgroup_dirs(opts.container_id)
    again = harness.options(["sh", "-c", "exit 6"])
    again = type(again)(**{**again.__dict__, "container_id": opts.container_id,
                           "state_dir": opts.state_dir})

    async def second() -> int:
        manager = await harness.manager()
        try:
            shim = await manager.create(again)
            await shim.start()
            return (await shim.wait()).exit_code
        finally:
            await manager.close()

    assert run(second()) == 6
    deadline = time.monotonic() + 10
    while alive(init_pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(init_pid)  # the orphaned container died with its cgroup
