"""berthd's side of the shim: asyncio, no forking (see ``protocol`` for the wire).

    ShimManager.start()   launch the zygote, wait until its socket accepts
    ShimManager.create()  zygote → shim → {"shim_pid", "init_pid"}: a ``Shim``
    ShimManager.connect() live restore: a ``Shim`` for a running shim, or None
    Shim.start/kill/resize/close_stdin/pause/resume/state/exec_create/exec_start/
        exec_resize/exec_close_stdin   one control connection, one request at a time
    Shim.wait(), Shim.exec_wait()   their own connection per call, so any number may wait
                          at once; if the shim is already gone, exit.json answers wait()
                          and without one it raises ShimDied: the shim was killed or
                          crashed, at once (its end of the connection closes with it)
    ShimManager.reap()    after ShimDied: delete what is left of the container (claim.py)
    Shim.attach()         a fresh attach.sock connection, registered before it returns
                          (with exec_id: that exec's streams, connectable before exec_start)

Errors come back as the exception the shim raised (``kind``: Conflict, NotFound, ...),
RuntimeFailure when it names none.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

from berth import errors
from berth.errors import Conflict, RuntimeFailure, Unavailable
from berth.oci.spec import Process
from berth.runtime.shim import ExitStatus, ShimOptions
from berth.runtime.shim.claim import reclaim
from berth.runtime.shim.protocol import (
    ATTACH_SOCKET,
    CONTROL_SOCKET,
    SHIM_PID,
    encode_line,
    exit_from_json,
    options_to_json,
    read_exit_status,
)
from berth.runtime.sockets import make_dir, socket_path

__all__ = ["Shim", "ShimManager", "read_exit_status"]

log = logging.getLogger(__name__)

ZYGOTE_SOCKET = "zygote.sock"
_START_TIMEOUT = 30.0


class ShimDied(RuntimeFailure):
    """The shim exited without recording the container's exit: killed, or crashed."""


class Shim:
    def __init__(self, state_dir: Path, shim_pid: int, init_pid: int) -> None:
        self.state_dir = state_dir
        self.shim_pid = shim_pid
        self.init_pid = init_pid
        self.control_path = socket_path(state_dir, CONTROL_SOCKET)
        self.attach_path = socket_path(state_dir, ATTACH_SOCKET)
        self._lock = asyncio.Lock()
        self._conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def start(self) -> None:
        await self._request({"op": "start"}, gone_ok=False)

    async def kill(self, signal: int) -> None:
        """Signal init; a no-op once the container has exited."""
        await self._request({"op": "kill", "signal": int(signal)}, gone_ok=True)

    async def resize(self, height: int, width: int) -> None:
        await self._request({"op": "resize", "height": height, "width": width}, gone_ok=True)

    async def close_stdin(self) -> None:
        await self._request({"op": "close_stdin"}, gone_ok=True)

    async def state(self) -> dict[str, Any]:
        """{"pid", "status": created|running|stopped, "paused": bool}"""
        return await self._request({"op": "state"}, gone_ok=False)

    async def pause(self) -> None:
        """Freeze the container's cgroup; returns once every task is frozen."""
        await self._request({"op": "pause"}, gone_ok=False)

    async def resume(self) -> None:
        await self._request({"op": "resume"}, gone_ok=False)

    async def exec_create(self, exec_id: str, process: Process, tty: bool,
                          open_stdin: bool) -> None:
        """Register an exec (nothing runs yet); attach to it now to miss no output."""
        await self._request({"op": "exec_create", "exec_id": exec_id, "process": process,
                             "tty": tty, "open_stdin": open_stdin}, gone_ok=False)

    async def exec_start(self, exec_id: str) -> int:
        """Run the exec; its host pid. RuntimeFailure with runc's words if it cannot
        start; Conflict if the container is paused or not running."""
        reply = await self._request({"op": "exec_start", "exec_id": exec_id}, gone_ok=False)
        return int(reply["pid"])

    async def exec_wait(self, exec_id: str) -> int:
        """The exec's exit code (128+signal) once it exited and its output drained."""
        reply = await self._deferred({"op": "exec_wait", "exec_id": exec_id})
        if reply is None:
            raise Conflict("container is not running (its shim has exited)")
        return int(reply["exit_code"])

    async def exec_resize(self, exec_id: str, height: int, width: int) -> None:
        await self._request({"op": "exec_resize", "exec_id": exec_id, "height": height,
                             "width": width}, gone_ok=True)

    async def exec_close_stdin(self, exec_id: str) -> None:
        await self._request({"op": "exec_close_stdin", "exec_id": exec_id}, gone_ok=True)

    async def wait(self) -> ExitStatus:
        reply = await self._deferred({"op": "wait"})
        if reply is None:  # the shim is gone, or exited between connecting and answering
            return self._recorded_exit()
        return exit_from_json(reply)

    async def _deferred(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """A request the shim answers later: its own connection, so waits do not queue
        behind each other or block other requests. None if the shim is gone."""
        try:
            reader, writer = await asyncio.open_unix_connection(self.control_path)
        except OSError:
            return None
        try:
            writer.write(encode_line(message))
            await writer.drain()
            line = await reader.readline()
        except OSError:
            line = b""
        finally:
            writer.close()
        if not line:
            return None
        return _check(json.loads(line))

    async def attach(self, stdin: bool, stdout: bool, stderr: bool,
                     exec_id: str | None = None
                     ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Once this returns, every later byte of output reaches the reader (framed with
        stdcopy unless the container, or the exec, has a tty); write stdin to the writer,
        ``write_eof`` to close stdin (the container's when it was created with
        ``stdin_once``; an exec's always). Keep the writer referenced: a collected
        StreamWriter closes the connection."""
        try:
            reader, writer = await asyncio.open_unix_connection(self.attach_path)
        except OSError as err:
            raise Conflict("container is not running") from err
        request: dict[str, Any] = {"stdin": stdin, "stdout": stdout, "stderr": stderr}
        if exec_id is not None:
            request["exec_id"] = exec_id
        writer.write(encode_line(request))
        await writer.drain()
        reply = await reader.readline()
        if reply != b"ok\n":
            writer.close()
            raise RuntimeFailure(f"attach refused: {reply.decode(errors='replace').strip()}")
        return reader, writer

    async def close(self) -> None:
        async with self._lock:
            if self._conn is not None:
                self._conn[1].close()
                self._conn = None

    async def _request(self, message: dict[str, Any], gone_ok: bool) -> dict[str, Any]:
        async with self._lock:
            for attempt in (1, 2):  # a connection left over from before may be stale
                try:
                    if self._conn is None:
                        self._conn = await asyncio.open_unix_connection(
                            self.control_path)
                    reader, writer = self._conn
                    writer.write(encode_line(message))
                    await writer.drain()
                    line = await reader.readline()
                except OSError:
                    line = b""
                if line:
                    break
                if self._conn is not None:
                    self._conn[1].close()
                    self._conn = None
                if attempt == 2:
                    if gone_ok:
                        return {"ok": True}
                    raise Conflict("container is not running (its shim has exited)")
        return _check(json.loads(line))

    def _recorded_exit(self) -> ExitStatus:
        status = read_exit_status(self.state_dir)
        if status is None:
            raise ShimDied(f"shim {self.shim_pid} died without recording the container's "
                           "exit (killed or crashed)")
        return status


_KINDS: dict[str, type[errors.BerthError]] = {
    cls.__name__: cls for cls in (errors.NotFound, errors.Conflict, errors.InvalidArgument,
                                  errors.NotImplemented, errors.Unavailable, RuntimeFailure)
}


def _check(reply: dict[str, Any]) -> dict[str, Any]:
    if not reply.get("ok"):
        raise _KINDS.get(str(reply.get("kind")), RuntimeFailure)(str(reply.get("error")))
    return reply


class ShimManager:
    def __init__(self, exec_root: Path) -> None:
        self.exec_root = exec_root
        self.socket_path = socket_path(exec_root, ZYGOTE_SOCKET)
        self._zygote: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.exec_root.mkdir(parents=True, exist_ok=True)
        make_dir()
        self.socket_path.unlink(missing_ok=True)
        self._zygote = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "berth.runtime.shim.zygote", "--socket",
            str(self.socket_path), stdin=asyncio.subprocess.DEVNULL)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _START_TIMEOUT
        while True:
            if self._zygote.returncode is not None:
                raise Unavailable(f"shim zygote exited with {self._zygote.returncode}")
            try:
                _, writer = await asyncio.open_unix_connection(self.socket_path)
            except OSError:
                if loop.time() > deadline:
                    raise Unavailable("shim zygote did not start") from None
                await asyncio.sleep(0.005)
                continue
            writer.close()  # the zygote reads EOF, answers "bad request" and moves on
            return

    async def close(self) -> None:
        """Stop the zygote; shims (and containers) keep running."""
        if self._zygote is None:
            return
        if self._zygote.returncode is None:
            self._zygote.terminate()
        await self._zygote.wait()
        self._zygote = None
        self.socket_path.unlink(missing_ok=True)

    async def create(self, opts: ShimOptions) -> Shim:
        try:
            reader, writer = await asyncio.open_unix_connection(self.socket_path)
        except OSError as err:
            raise Unavailable(f"shim zygote unreachable: {err}") from err
        try:
            writer.write(encode_line(options_to_json(opts)))
            await writer.drain()
            line = await reader.readline()
        finally:
            writer.close()
        if not line:
            raise RuntimeFailure("shim exited before reporting the create result")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeFailure(str(reply["error"]))
        return Shim(opts.state_dir, int(reply["shim_pid"]), int(reply["init_pid"]))

    async def reap(self, state_dir: Path) -> None:
        """After ``ShimDied``: delete the container from its runtime (processes, cgroup,
        runtime state), as its next shim would, and the sockets the shim left."""
        await asyncio.to_thread(reclaim, self.exec_root, state_dir.name)
        for name in (CONTROL_SOCKET, ATTACH_SOCKET):
            socket_path(state_dir, name).unlink(missing_ok=True)

    async def connect(self, state_dir: Path) -> Shim | None:
        """Re-attach to the shim of a container after a daemon restart (live restore)."""
        try:
            shim_pid = int((state_dir / SHIM_PID).read_text())
        except (FileNotFoundError, ValueError):
            return None
        shim = Shim(state_dir, shim_pid, 0)
        try:
            state = await shim.state()
        except Conflict:
            return None
        shim.init_pid = int(state["pid"])
        return shim
