"""ShimManager end to end against real runtimes (runc, crun, native)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import pytest
from tests.integration.shim.conftest import alive

from berth.errors import RuntimeFailure
from berth.formats.stdcopy import FrameDecoder
from berth.runtime.shim.client import ShimManager, read_exit_status

run = asyncio.run


pytestmark = pytest.mark.root


async def read_all(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.read(), timeout=20)


def test_output_is_framed_exit_code_and_json_log(harness) -> None:
    opts = harness.options(["sh", "-c", "echo hi; echo oops >&2; printf tail; exit 3"])

    async def scenario() -> tuple[bytes, int]:
        manager = await harness.manager()
        try:
            shim = await manager.create(opts)
            assert shim.init_pid > 0 and shim.shim_pid > 0
            reader, _writer = await shim.attach(stdin=False, stdout=True, stderr=True)
            await shim.start()
            output = await read_all(reader)
            status = await shim.wait()
            await shim.close()
            return output, status.exit_code
        finally:
            await manager.close()

    output, code = run(scenario())  # type: ignore[misc]
    assert code == 3
    frames = FrameDecoder().feed(output)
    assert b"".join(p for s, p in frames if s == 1) == b"hi\ntail"
    assert b"".join(p for s, p in frames if s == 2) == b"oops\n"
    assert opts.log_path is not None
    records = [json.loads(line) for line in opts.log_path.read_text().splitlines()]
    by_stream = {(r["stream"], r["log"]) for r in records}
    assert by_stream == {("stdout", "hi\n"), ("stderr", "oops\n"), ("stdout", "tail")}
    assert all(r["time"].endswith("Z") and list(r) == ["log", "stream", "time"]
               for r in records)
    assert read_exit_status(opts.state_dir).exit_code == 3  # type: ignore[union-attr]


def test_kill(harness) -> None:
    opts = harness.options(["sleep", "100"])

    async def scenario() -> int:
        manager = await harness.manager()
        try:
            shim = await manager.create(opts)
            await shim.start()
            waiters = [asyncio.ensure_future(shim.wait()) for _ in range(3)]
            await shim.kill(signal.SIGKILL)
            statuses = await asyncio.wait_for(asyncio.gather(*waiters), 20)
            assert len({s.exit_code for s in statuses}) == 1
            await shim.kill(signal.SIGKILL)  # already exited: a no-op
            return statuses[0].exit_code
        finally:
            await manager.close()

    assert run(scenario()) == 128 + signal.SIGKILL


def test_exec_not_found(harness) -> None:
    opts = harness.options(["nosuchbinary"])

    async def scenario() -> None:
        manager = await harness.manager()
        try:
            with pytest.raises(RuntimeFailure, match="executable file not found"):
                await manager.create(opts)
        finally:
            await manager.close()

    run(scenario())


def test_stdin_once(harness) -> None:
    opts = harness.options(["cat"], open_stdin=True, stdin_once=True)

    async def scenario() -> tuple[bytes, int]:
        manager = await harness.manager()
        try:
            shim = await manager.create(opts)
            reader, writer = await shim.attach(stdin=True, stdout=True, stderr=True)
            await shim.start()
            writer.write(b"hello\n")
            await writer.drain()
            writer.write_eof()
            output = await read_all(reader)
            return output, (await shim.wait()).exit_code
        finally:
            await manager.close()

    output, code = run(scenario())  # type: ignore[misc]
    assert FrameDecoder().feed(output) == [(1, b"hello\n")]
    assert code == 0


def test_tty(harness) -> None:
    script = "test -t 0 && test -t 1 && echo isatty; (: </dev/tty) && echo ctty; tty"
    opts = harness.options(["sh", "-c", script], tty=True)

    async def scenario() -> tuple[bytes, int]:
        manager = await harness.manager()
        try:
            shim = await manager.create(opts)
            reader, _ = await shim.attach(stdin=False, stdout=True, stderr=True)
            await shim.resize(30, 100)
            await shim.start()
            output = await read_all(reader)
            return output, (await shim.wait()).exit_code
        finally:
            await manager.close()

    output, code = run(scenario())  # type: ignore[misc]
    lines = output.split(b"\r\n")  # raw (not framed), with the tty's onlcr
    assert lines[0] == b"isatty", output
    assert lines[1] == b"ctty", output  # the pty is the controlling terminal
    assert lines[2] == b"/dev/pts/0" and code == 0, output  # the container's own devpts


def test_live_restore(harness) -> None:
    opts = harness.options(["sh", "-c", "sleep 1; echo late; exit 5"])

    async def first_daemon() -> int:
        manager = await harness.manager()
        shim = await manager.create(opts)
        await shim.start()
        await shim.close()
        await manager.close()  # the daemon goes away; the shim must not
        return shim.shim_pid

    async def second_daemon() -> tuple[int, bytes]:
        manager = ShimManager(harness.exec_root)
        shim = await manager.connect(opts.state_dir)
        assert shim is not None
        reader, _ = await shim.attach(stdin=False, stdout=True, stderr=True)
        status = await shim.wait()
        output = await read_all(reader)
        return status.exit_code, output

    shim_pid = run(first_daemon())
    os.kill(shim_pid, 0)  # alive
    code, output = run(second_daemon())  # type: ignore[misc]
    assert code == 5
    assert FrameDecoder().feed(output) == [(1, b"late\n")]


def test_exit_while_nobody_connected(harness) -> None:
    opts = harness.options(["sh", "-c", "exit 7"])

    async def scenario() -> int:
        manager = await harness.manager()
        try:
            shim = await manager.create(opts)
            await shim.start()
            await shim.close()
            return shim.shim_pid
        finally:
            await manager.close()

    shim_pid = run(scenario())
    deadline = time.monotonic() + 20
    while Path(f"/proc/{shim_pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    status = read_exit_status(opts.state_dir)
    assert status is not None and status.exit_code == 7 and not status.oom_killed
    assert run(ShimManager(harness.exec_root).connect(opts.state_dir)) is None


def test_slow_client_loses_nothing_and_a_gone_client_hurts_nobody(harness) -> None:
    size = 5_000_000
    opts = harness.options(["sh", "-c", f"yes | head -c {size}; echo done >&2"], log=False)

    async def scenario() -> tuple[int, bytes, int]:
        manager = await harness.manager()
        try:
            shim = await manager.create(opts)
            # keep the writer: a StreamWriter closes its connection when collected
            slow, _slow_writer = await shim.attach(stdin=False, stdout=True, stderr=True)
            _gone_reader, gone = await shim.attach(stdin=True, stdout=True, stderr=True)
            gone.close()
            await shim.start()
            await asyncio.sleep(0.5)  # the container fills the shim's buffers meanwhile
            frames = FrameDecoder().feed(await read_all(slow))
            stdout = sum(len(p) for s, p in frames if s == 1)
            stderr = b"".join(p for s, p in frames if s == 2)
            return stdout, stderr, (await shim.wait()).exit_code
        finally:
            await manager.close()

    assert run(scenario()) == (size, b"done\n", 0)


DAEMON = """
import asyncio, json, sys
from pathlib import Path
from berth.runtime.shim.client import ShimManager
from berth.runtime.shim.protocol import options_from_json

async def main():
    manager = ShimManager(Path(sys.argv[1]))
    await manager.start()
    shim = await manager.create(options_from_json(json.loads(sys.argv[2])))
    await shim.start()
    print(shim.shim_pid, manager._zygote.pid, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def test_shim_survives_sigkill_of_the_daemon(harness) -> None:
    import subprocess
    import sys

    from berth.runtime.shim.protocol import options_to_json

    opts = harness.options(["sh", "-c", "read line; echo got $line; exit 9"],
                           open_stdin=True, stdin_once=True)
    daemon = subprocess.Popen(
        [sys.executable, "-c", DAEMON, str(harness.exec_root),
         json.dumps(options_to_json(opts))], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert daemon.stdout is not None
        shim_pid, zygote_pid = map(int, daemon.stdout.readline().split())
    finally:
        daemon.kill()
        daemon.wait()
    deadline = time.monotonic() + 10
    while alive(zygote_pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(zygote_pid)  # the zygote dies with the daemon
    os.kill(shim_pid, 0)  # the shim does not

    async def reconnect() -> tuple[bytes, int]:
        shim = await ShimManager(harness.exec_root).connect(opts.state_dir)
        assert shim is not None and shim.shim_pid == shim_pid
        reader, writer = await shim.attach(stdin=True, stdout=True, stderr=True)
        writer.write(b"hello\n")
        await writer.drain()
        output = await read_all(reader)
        return output, (await shim.wait()).exit_code

    output, code = run(reconnect())  # type: ignore[misc]
    assert FrameDecoder().feed(output) == [(1, b"got hello\n")]
    assert code == 9

