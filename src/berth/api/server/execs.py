"""Routes of exec (moby's ``router/container/exec.go``), calling an ExecBackend.

``POST /exec/{id}/start`` hijacks the connection exactly as attach does, unless the body
asks for ``Detach``. Unknown execs (404) and execs started before (409) are refused before
the hijack, so the client gets a plain error; a process that cannot start is reported as
moby reports it once the stream is open: its message as output, then the stream ends.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from berth.api.server import params
from berth.api.server.app import Router, json_response
from berth.api.server.backend import ExecBackend
from berth.api.server.hijack import hijack
from berth.api.server.relay import parse_detach_keys, reframing, splice
from berth.api.types import responses as wire
from berth.api.types.execs import ExecCreate, ExecStart
from berth.engine.containers.execs import Exec, ExecSpec
from berth.errors import BerthError, InvalidArgument
from berth.formats.goformat import go_quote
from berth.formats.stdcopy import STDOUT, encode_frame


@dataclass(frozen=True)
class ExecRoutes:
    execs: ExecBackend

    def register(self, r: Router) -> None:
        r.add("POST", "/containers/{id}/exec", self.create)
        r.add("POST", "/exec/{id}/start", self.start)
        r.add("POST", "/exec/{id}/resize", self.resize)
        r.add("GET", "/exec/{id}/json", self.inspect)

    async def create(self, request: web.Request) -> web.Response:
        spec = spec_from_create(await params.body(request, ExecCreate))
        rec = await self.execs.create(request.match_info["id"], spec)
        return json_response({"Id": rec.id}, status=201)

    async def start(self, request: web.Request) -> web.StreamResponse:
        body = await params.body(request, ExecStart)
        rec = self.execs.get(request.match_info["id"])
        self.execs.check_startable(rec)
        console = (body.ConsoleSize[0], body.ConsoleSize[1]) if body.ConsoleSize else None
        if body.Detach:
            await self.execs.start(rec.id, attach=False, console_size=console)
            return web.Response(status=200)
        # The start body's Tty decides the framing, as in moby: raw only when it says
        # true (docker-py's exec_start defaults to false whatever the exec's Tty is).
        response, conn = await hijack(request, multiplexed=not body.Tty)
        try:
            try:
                streams = await self.execs.start(rec.id, attach=True, console_size=console)
            except BerthError as err:
                text = err.message.encode() + b"\r\n"
                await conn.write(text if body.Tty else encode_frame(STDOUT, text))
                return response
            assert streams is not None
            keys = parse_detach_keys(rec.spec.detach_keys) if rec.spec.tty else None
            if await splice(conn, *streams, stdin=rec.spec.attach_stdin, detach_keys=keys,
                            reframe=reframing(produced_tty=rec.spec.tty, raw=body.Tty)):
                self.execs.detached(rec.id)
            else:
                await self.execs.exited(rec.id)  # ExitCode is set before the client's EOF
        finally:
            conn.close()
        return response

    async def resize(self, request: web.Request) -> web.Response:
        height, width = window_size(request)
        await self.execs.resize(request.match_info["id"], height, width)
        return web.Response(status=200)

    async def inspect(self, request: web.Request) -> web.Response:
        return json_response(inspect(self.execs.get(request.match_info["id"])))


MAX_WINDOW = 65535  # a terminal's rows and columns are unsigned shorts (struct winsize)


def window_size(request: web.Request) -> tuple[int, int]:
    """``?h=&w=`` of a resize (a container's or an exec's): integers from 0 to 65535, a
    missing one 0. Anything else is a 400 here, never a request the shim must refuse."""
    size = []
    for name, what in (("h", "height"), ("w", "width")):
        raw = request.query.get(name, "")
        value = int(raw) if raw.isascii() and raw.isdigit() else 0 if raw == "" else -1
        if not 0 <= value <= MAX_WINDOW:
            raise InvalidArgument(f"invalid resize {what} {go_quote(raw)}: not an integer "
                                  f"from 0 to {MAX_WINDOW}")
        size.append(value)
    return size[0], size[1]


def spec_from_create(body: ExecCreate) -> ExecSpec:
    cmd = [body.Cmd] if isinstance(body.Cmd, str) else body.Cmd
    if not cmd:
        raise InvalidArgument("No exec command specified")
    if body.Privileged:
        raise InvalidArgument("berth does not support Privileged yet")
    try:
        parse_detach_keys(body.DetachKeys)
    except ValueError:
        raise InvalidArgument(f"Invalid escape keys ({body.DetachKeys}) provided") from None
    return ExecSpec(
        cmd=tuple(cmd), env=tuple(body.Env or ()), user=body.User,
        working_dir=body.WorkingDir, tty=body.Tty, attach_stdin=body.AttachStdin,
        attach_stdout=body.AttachStdout, attach_stderr=body.AttachStderr,
        detach_keys=body.DetachKeys, privileged=False,
        console_size=(body.ConsoleSize[0], body.ConsoleSize[1]) if body.ConsoleSize else None)


def inspect(rec: Exec) -> wire.ExecInspect:
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
