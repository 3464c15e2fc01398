"""Routes of exec (moby's ``router/container/exec.go``), calling the ExecService.

``POST /exec/{id}/start`` hijacks the connection exactly as attach does, unless the body
asks for ``Detach``. Unknown execs (404) and execs started before (409) are refused before
the hijack, so the client gets a plain error; a process that cannot start is reported as
moby reports it once the stream is open: its message as output, then the stream ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from berth.api.server import params
from berth.api.server.app import Router, json_response
from berth.api.server.hijack import hijack
from berth.api.server.relay import parse_detach_keys, splice
from berth.engine.containers.execs import Exec, ExecService, ExecSpec
from berth.errors import BerthError, InvalidArgument
from berth.formats.stdcopy import STDOUT, encode_frame


@dataclass(frozen=True)
class ExecRoutes:
    execs: ExecService

    def register(self, r: Router) -> None:
        r.add("POST", "/containers/{id}/exec", self.create)
        r.add("POST", "/exec/{id}/start", self.start)
        r.add("POST", "/exec/{id}/resize", self.resize)
        r.add("GET", "/exec/{id}/json", self.inspect)

    async def create(self, request: web.Request) -> web.Response:
        spec = spec_from_create(await params.json_body(request))
        rec = await self.execs.create(request.match_info["id"], spec)
        return json_response({"Id": rec.id}, status=201)

    async def start(self, request: web.Request) -> web.StreamResponse:
        body = await params.json_body(request)
        rec = self.execs.get(request.match_info["id"])
        self.execs.check_startable(rec)
        console = _console_size(body.get("ConsoleSize"))
        if body.get("Detach"):
            await self.execs.start(rec.id, attach=False, console_size=console)
            return web.Response(status=200)
        response, conn = await hijack(request, multiplexed=not rec.spec.tty)
        try:
            try:
                streams = await self.execs.start(rec.id, attach=True, console_size=console)
            except BerthError as err:
                text = err.message.encode() + b"\r\n"
                await conn.write(text if rec.spec.tty else encode_frame(STDOUT, text))
                return response
            assert streams is not None
            keys = parse_detach_keys(rec.spec.detach_keys) if rec.spec.tty else None
            if await splice(conn, *streams, stdin=rec.spec.attach_stdin, detach_keys=keys):
                self.execs.detached(rec.id)
            else:
                await self.execs.exited(rec.id)  # ExitCode is set before the client's EOF
        finally:
            conn.close()
        return response

    async def resize(self, request: web.Request) -> web.Response:
        height, width = _size(request)
        await self.execs.resize(request.match_info["id"], height, width)
        return web.Response(status=200)

    async def inspect(self, request: web.Request) -> web.Response:
        return json_response(inspect(self.execs.get(request.match_info["id"])))


def _size(request: web.Request) -> tuple[int, int]:
    """``?h=&w=``, as moby reads them: both integers (a missing one is 0)."""
    return params.integer(request, "h", 0) or 0, params.integer(request, "w", 0) or 0


def _console_size(value: Any) -> tuple[int, int] | None:
    if not value:
        return None
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int) and v >= 0 for v in value)):
        raise InvalidArgument("invalid ConsoleSize: expected [height, width]")
    return value[0], value[1]


def spec_from_create(body: dict[str, Any]) -> ExecSpec:
    cmd = body.get("Cmd")
    if isinstance(cmd, str):
        cmd = [cmd]
    if not cmd:
        raise InvalidArgument("No exec command specified")
    if not isinstance(cmd, list) or not all(isinstance(a, str) for a in cmd):
        raise InvalidArgument("invalid Cmd: expected a list of strings")
    env = body.get("Env") or []
    if not isinstance(env, list) or not all(isinstance(e, str) for e in env):
        raise InvalidArgument("invalid Env: expected a list of strings")
    keys = body.get("DetachKeys") or ""
    try:
        parse_detach_keys(keys)
    except ValueError:
        raise InvalidArgument(f"Invalid escape keys ({keys}) provided") from None
    return ExecSpec(
        cmd=tuple(cmd), env=tuple(env), user=body.get("User") or "",
        working_dir=body.get("WorkingDir") or "", tty=bool(body.get("Tty")),
        attach_stdin=bool(body.get("AttachStdin")),
        attach_stdout=bool(body.get("AttachStdout")),
        attach_stderr=bool(body.get("AttachStderr")), detach_keys=keys,
        privileged=bool(body.get("Privileged")),
        console_size=_console_size(body.get("ConsoleSize")))


def inspect(rec: Exec) -> dict[str, Any]:
    """docker's ``GET /exec/{id}/json``: ExitCode is null until the process has exited."""
    s = rec.spec
    return {
        "ID": rec.id, "ContainerID": rec.container_id, "Running": rec.running,
        "ExitCode": rec.exit_code, "Pid": rec.pid, "CanRemove": False,
        "DetachKeys": s.detach_keys, "OpenStdin": s.attach_stdin,
        "OpenStdout": s.attach_stdout, "OpenStderr": s.attach_stderr,
        "ProcessConfig": {"tty": s.tty, "entrypoint": s.cmd[0], "arguments": list(s.cmd[1:]),
                          "privileged": s.privileged, "user": s.user},
    }
