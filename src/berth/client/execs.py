"""``/containers/{id}/exec`` and ``/exec/{id}``: a second process in a running container.

Three requests, as docker's CLI makes them::

    POST /containers/{id}/exec   {Cmd, Env, User, WorkingDir, Tty, Attach*, DetachKeys}
         -> {"Id": exec id}
    POST /exec/{id}/start        {Detach, Tty, ConsoleSize}: hijacked like attach
                                 (or, with Detach, a plain 200 once the process runs)
    GET  /exec/{id}/json         -> {"ExitCode": ..., "Running": ...} after the stream ends
"""

from __future__ import annotations

from berth.client.api import quote_id
from berth.client.models import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

    from berth.api.types import responses as wire
    from berth.client.api import EngineAPI
    from berth.client.hijack import HijackedStream

# ConsoleSize in exec create/start came with API 1.42; older daemons reject unknown keys
# no more than docker's client does: it leaves the field out for them.
_CONSOLE_SIZE_SINCE = (1, 42)


class ExecSpec(Value):
    """The body of ``POST /containers/{id}/exec``."""

    __slots__ = ("attach_stderr", "attach_stdin", "attach_stdout", "cmd", "detach_keys",
                 "env", "privileged", "tty", "user", "working_dir")
    cmd: Final[tuple[str, ...]]
    env: Final[tuple[str, ...]]
    user: Final[str]
    working_dir: Final[str]
    tty: Final[bool]
    privileged: Final[bool]
    attach_stdin: Final[bool]
    attach_stdout: Final[bool]
    attach_stderr: Final[bool]
    detach_keys: Final[str]

    def __init__(self, cmd: tuple[str, ...], env: tuple[str, ...] = (), user: str = "",
                 working_dir: str = "", tty: bool = False, privileged: bool = False,
                 attach_stdin: bool = False, attach_stdout: bool = False,
                 attach_stderr: bool = False, detach_keys: str = "") -> None:
        self.cmd = cmd
        self.env = env
        self.user = user
        self.working_dir = working_dir
        self.tty = tty
        self.privileged = privileged
        self.attach_stdin = attach_stdin
        self.attach_stdout = attach_stdout
        self.attach_stderr = attach_stderr
        self.detach_keys = detach_keys

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "Cmd": list(self.cmd), "Env": list(self.env), "User": self.user,
            "WorkingDir": self.working_dir, "Tty": self.tty, "Privileged": self.privileged,
            "AttachStdin": self.attach_stdin, "AttachStdout": self.attach_stdout,
            "AttachStderr": self.attach_stderr,
        }
        if self.detach_keys:
            doc["DetachKeys"] = self.detach_keys
        return doc


class ExecAPI:
    def __init__(self, api: EngineAPI) -> None:
        self._api = api

    def _sized(self, doc: dict[str, Any], size: tuple[int, int] | None) -> dict[str, Any]:
        major, _, minor = self._api.api_version.partition(".")
        if size is not None and (int(major), int(minor or 0)) >= _CONSOLE_SIZE_SINCE:
            doc["ConsoleSize"] = list(size)
        return doc

    def create(self, container: str, spec: ExecSpec,
               console_size: tuple[int, int] | None = None) -> str:
        """The new exec's id; ``console_size`` is (height, width) for a tty."""
        doc = self._api.json("POST", f"/containers/{quote_id(container)}/exec",
                             payload=self._sized(spec.to_json(), console_size))
        return str(doc["Id"])

    def start_detached(self, ident: str, tty: bool = False) -> None:
        self._api.json("POST", f"/exec/{quote_id(ident)}/start",
                       payload={"Detach": True, "Tty": tty})

    def start(self, ident: str, tty: bool = False,
              console_size: tuple[int, int] | None = None) -> HijackedStream:
        """Start the process and return its hijacked stdio stream."""
        from berth.client.hijack import hijack

        payload = self._sized({"Detach": False, "Tty": tty}, console_size)
        return hijack(self._api, f"/exec/{quote_id(ident)}/start", payload=payload)

    def inspect(self, ident: str) -> wire.ExecInspect:
        doc: wire.ExecInspect = self._api.json("GET", f"/exec/{quote_id(ident)}/json")
        return doc

    def resize(self, ident: str, height: int, width: int) -> None:
        self._api.json("POST", f"/exec/{quote_id(ident)}/resize", {"h": height, "w": width})
