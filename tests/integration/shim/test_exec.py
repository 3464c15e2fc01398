"""Exec, pause/resume and the in-container tty through a real shim, for every runtime."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from berth.errors import Conflict, RuntimeFailure
from berth.formats.stdcopy import FrameDecoder
from berth.runtime.shim.client import Shim

run = asyncio.run

pytestmark = pytest.mark.root


def process(args: list[str], **fields: Any) -> Any:
    proc: dict[str, Any] = {"user": {"uid": 0, "gid": 0}, "args": args, "cwd": "/",
                            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                            "noNewPrivileges": True}
    proc.update(fields)
    return proc


async def read_all(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.read(), timeout=20)


async def exec_output(shim: Shim, exec_id: str, proc: Any, *, tty: bool = False,
                      stdin: bytes | None = None) -> tuple[bytes, int]:
    await shim.exec_create(exec_id, proc, tty=tty, open_stdin=stdin is not None)
    reader, writer = await shim.attach(stdin=stdin is not None, stdout=True, stderr=True,
                                       exec_id=exec_id)
    await shim.exec_start(exec_id)
    if stdin is not None:
        writer.write(stdin)
        await writer.drain()
        writer.write_eof()
    output = await read_all(reader)
    writer.close()
    return output, await asyncio.wait_for(shim.exec_wait(exec_id), 20)


def stdout_of(output: bytes) -> bytes:
    return b"".join(p for s, p in FrameDecoder().feed(output) if s == 1)


def in_running_container(harness, scenario, args: list[str] | None = None) -> Any:
    opts = harness.options(args or ["sh", "-c", "echo init-out; sleep 100"])

    async def outer() -> Any:
        manager = await harness.manager()
        try:
            shim = await manager.create(opts)
            await shim.start()
            try:
                return await scenario(shim, opts)
            finally:
                await shim.kill(9)
                await asyncio.wait_for(shim.wait(), 20)
                await shim.close()
        finally:
            await manager.close()

    result = run(outer())
    return result, opts


def test_exec_sees_the_container(harness) -> None:
    script = ("echo $$; id -u; pwd; echo $X; hostname; ps -o pid,args; "
              "grep -c ' / ' /proc/self/mountinfo; exit 3")
    proc = process(["sh", "-c", script], user={"uid": 1000, "gid": 1000}, cwd="/tmp",
                   env=["PATH=/bin", "X=hello"])

    async def scenario(shim: Shim, opts: Any) -> tuple[bytes, int]:
        return await exec_output(shim, "e1", proc)

    (output, code), opts = in_running_container(harness, scenario)
    lines = stdout_of(output).decode().splitlines()
    assert code == 3, output
    assert int(lines[0]) != 1 and lines[1:5] == ["1000", "/tmp", "hello", "shimtest"]
    # init (sh execs its last command): the exec is in the container's pid namespace
    assert any(line.split() == ["1", "sleep", "100"] for line in lines[5:]), lines
    # exec output is not in the container's log (docker's json-file does not log it)
    assert opts.log_path is not None
    logged = [json.loads(line)["log"] for line in opts.log_path.read_text().splitlines()]
    assert logged == ["init-out\n"]


def test_exec_exit_codes_not_found_and_wait_after_end(harness) -> None:
    async def scenario(shim: Shim, opts: Any) -> tuple[list[int], int]:
        codes = [(await exec_output(shim, f"e{n}", process(["sh", "-c", f"exit {n}"])))[1]
                 for n in (0, 1, 42)]
        killed = (await exec_output(shim, "k", process(["sh", "-c", "kill -9 $$"])))[1]
        await shim.exec_create("nf", process(["nosuchbinary"]), tty=False, open_stdin=False)
        with pytest.raises(RuntimeFailure, match="executable file not found"):
            await shim.exec_start("nf")
        assert await shim.exec_wait("e42") == 42  # kept after it ended
        with pytest.raises(Conflict):
            await shim.exec_start("e1")  # already ran
        return codes, killed

    (codes, killed), _ = in_running_container(harness, scenario)
    assert codes == [0, 1, 42] and killed == 137


def test_exec_stdin_eof(harness) -> None:
    async def scenario(shim: Shim, opts: Any) -> tuple[bytes, int]:
        return await exec_output(shim, "cat", process(["cat"]), stdin=b"hello\nworld\n")

    (output, code), _ = in_running_container(harness, scenario)
    assert (stdout_of(output), code) == (b"hello\nworld\n", 0)


def test_exec_tty_and_resize(harness) -> None:
    async def scenario(shim: Shim, opts: Any) -> tuple[bytes, int]:
        await shim.exec_create("t", process(["sh", "-c", "tty; read x; stty size"]),
                               tty=True, open_stdin=True)
        reader, writer = await shim.attach(stdin=True, stdout=True, stderr=True,
                                           exec_id="t")
        await shim.exec_start("t")
        first = await asyncio.wait_for(reader.readuntil(b"\n"), 20)
        await shim.exec_resize("t", 37, 111)
        writer.write(b"go\n")
        await writer.drain()
        rest = await read_all(reader)
        return first + rest, await shim.exec_wait("t")

    (output, code), _ = in_running_container(harness, scenario)
    lines = output.split(b"\r\n")  # raw, with the tty's onlcr
    assert lines[0].startswith(b"/dev/pts/"), output  # a pty of the container's devpts
    assert b"37 111" in lines and code == 0, output


def test_client_disconnect_does_not_kill_the_exec(harness) -> None:
    async def scenario(shim: Shim, opts: Any) -> int:
        await shim.exec_create("d", process(["sh", "-c", "sleep 0.5; exit 5"]), tty=False,
                               open_stdin=False)
        _, writer = await shim.attach(stdin=False, stdout=True, stderr=True, exec_id="d")
        await shim.exec_start("d")
        writer.close()
        return await asyncio.wait_for(shim.exec_wait("d"), 20)

    code, _ = in_running_container(harness, scenario)
    assert code == 5


def test_fifty_concurrent_execs(harness) -> None:
    async def one(shim: Shim, n: int) -> tuple[int, bytes]:
        output, code = await exec_output(shim, f"c{n}",
                                         process(["sh", "-c", f"echo {n}; exit {n}"]))
        return code, stdout_of(output)

    async def scenario(shim: Shim, opts: Any) -> list[tuple[int, bytes]]:
        return list(await asyncio.gather(*(one(shim, n) for n in range(50))))

    results, _ = in_running_container(harness, scenario)
    assert results == [(n, f"{n}\n".encode()) for n in range(50)]


def _freezer_state(cgroups_path: str) -> str:
    return Path(f"/sys/fs/cgroup/freezer{cgroups_path}/freezer.state").read_text().strip()


def test_pause_resume(harness) -> None:
    counter = ["sh", "-c", "i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done"]

    async def scenario(shim: Shim, opts: Any) -> str:
        reader, _writer = await shim.attach(stdin=False, stdout=True, stderr=True)
        await asyncio.wait_for(reader.read(1), 20)  # it runs
        await shim.exec_create("p", process(["true"]), tty=False, open_stdin=False)
        await shim.pause()
        assert (await shim.state())["paused"] is True
        frozen = _freezer_state(f"/berth-test/{opts.container_id}")
        while True:  # what was written before the freeze
            try:
                await asyncio.wait_for(reader.read(65536), 0.3)
            except TimeoutError:
                break
        with pytest.raises(TimeoutError):  # nothing advances while frozen
            await asyncio.wait_for(reader.read(1), 0.5)
        with pytest.raises(Conflict, match="is paused, unpause the container before exec"):
            await shim.exec_start("p")
        await shim.resume()
        assert (await shim.state())["paused"] is False
        assert await asyncio.wait_for(reader.read(1), 5)  # counting again
        assert await shim.exec_start("p") > 0
        return frozen

    frozen, _ = in_running_container(harness, scenario, counter)
    assert frozen == "FROZEN"
