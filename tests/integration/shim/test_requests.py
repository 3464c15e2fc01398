"""No request kills a shim: whatever berthd sends on the control or the attach socket, the
shim answers with an error and serves on (its death would orphan the container)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pytest
from tests.integration.shim.conftest import CGROUP_PARENT, alive

from berth.errors import InvalidArgument
from berth.runtime.shim.client import ShimDied
from berth.runtime.shim.protocol import ATTACH_SOCKET, CONTROL_SOCKET
from berth.runtime.sockets import socket_path

pytestmark = pytest.mark.root

BAD_CONTROL = [
    b'{"op": "resize", "height": 70000, "width": 80}',
    b'{"op": "resize", "height": 24, "width": -1}',
    b'{"op": "resize", "height": "24", "width": 80}',
    b'{"op": "resize", "height": 24.5, "width": 80}',
    b'{"op": "exec_resize", "exec_id": "e1", "height": 1, "width": 65536}',
    b'{"op": "kill", "signal": 100000000000000000000}',
    b'{"op": "kill", "signal": 1e400}',
    b'{"op": 5}',
    b'[1, 2]',
    b'"resize"',
    b'{"op": "exec_create", "exec_id": "e2", "process": 7, "tty": false, "open_stdin": 1}',
    b"[" * 5000,
    b"\xff\xfe not json",
]


def test_bad_requests_are_answered_and_the_shim_serves_on(harness) -> None:
    opts = harness.options(["sleep", "100"], tty=True)

    async def scenario() -> tuple[list[dict[str, object]], bytes, int]:
        manager = await harness.manager()
        try:
            shim = await manager.create(opts)
            await shim.start()
            await shim.exec_create("e1", {"args": ["sleep", "100"], "cwd": "/",
                                          "user": {"uid": 0, "gid": 0},
                                          "env": ["PATH=/bin"]}, True, False)
            await shim.exec_start("e1")
            reader, writer = await asyncio.open_unix_connection(
                socket_path(opts.state_dir, CONTROL_SOCKET))
            replies = []
            for line in BAD_CONTROL:
                writer.write(line + b"\n")
                replies.append(json.loads(await asyncio.wait_for(reader.readline(), 10)))
            writer.close()
            attach_r, attach_w = await asyncio.open_unix_connection(
                socket_path(opts.state_dir, ATTACH_SOCKET))
            attach_w.write(b"[" * 4000 + b"\n")
            refusal = await asyncio.wait_for(attach_r.readline(), 10)
            attach_w.close()
            assert alive(shim.shim_pid)
            with pytest.raises(InvalidArgument):
                await shim.resize(70000, 80)
            await shim.resize(30, 100)
            assert (await shim.state())["status"] == "running"
            await shim.kill(signal.SIGKILL)
            code = (await asyncio.wait_for(shim.wait(), 20)).exit_code
            await shim.close()
            return replies, refusal, code
        finally:
            await manager.close()

    replies, refusal, code = asyncio.run(scenario())
    assert all(reply["ok"] is False and reply["error"] for reply in replies), replies
    assert [r.get("kind") for r in replies[:5]] == ["InvalidArgument"] * 5
    assert b"bad attach request" in refusal
    assert code == 128 + signal.SIGKILL


def test_wait_on_a_killed_shim_raises_shim_died(harness) -> None:
    opts = harness.options(["sleep", "100"])

    async def scenario() -> str:
        manager = await harness.manager()
        try:
            shim = await manager.create(opts)
            await shim.start()
            waiter = asyncio.ensure_future(shim.wait())
            await asyncio.sleep(0.1)  # the wait is connected
            os.kill(shim.shim_pid, signal.SIGKILL)
            with pytest.raises(ShimDied) as died:
                await asyncio.wait_for(waiter, 5)
            await manager.reap(opts.state_dir)  # berthd's cleanup after a dead shim
            assert not alive(shim.init_pid)
            root = Path("/sys/fs/cgroup")
            assert not [top for top in (root, *root.iterdir())
                        if (top / CGROUP_PARENT / opts.container_id).exists()]
            assert not (harness.exec_root / "claims" / opts.container_id).exists()
            assert not socket_path(opts.state_dir, CONTROL_SOCKET).exists()
            return died.value.message
        finally:
            await manager.close()

    assert "died" in asyncio.run(scenario())
