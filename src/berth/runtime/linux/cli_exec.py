"""``berth-runtime exec``: runc's exec, flag for flag.

The process is either ``--process process.json`` (taken as it is) or the container's own
``process`` from its bundle with the flags applied (runc's ``getProcess``: args from the
command line, ``--cwd``, ``--env`` appended, ``--user uid[:gid]``, ``-g`` gids,
``--cap`` added to every set, ``--no-new-privs``, ``-t``). Any failure before the process
runs is "exec failed: ..." with exit status 255; otherwise the exit status is the
process's (128+N for a signal), or 0 at once with ``--detach``.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any, cast

from berth.errors import BerthError
from berth.oci import spec as oci
from berth.runtime import Stdio
from berth.runtime.linux import cli_console
from berth.runtime.linux import state as cstate
from berth.runtime.linux.cli_log import CommandError
from berth.runtime.linux.runtime import NativeRuntime

EXEC_FAILED = 255
_CAP_SETS = ("bounding", "inheritable", "effective", "permitted", "ambient")


def register(sub: Any) -> None:
    p = sub.add_parser("exec")
    p.add_argument("--console-socket")
    p.add_argument("--cwd")
    p.add_argument("--env", "-e", action="append", default=[])
    p.add_argument("--tty", "-t", action="store_true", default=None)
    p.add_argument("--user", "-u")
    p.add_argument("--additional-gids", "-g", action="append", type=int, default=[])
    p.add_argument("--process", "-p", type=Path)
    p.add_argument("--detach", "-d", action="store_true")
    p.add_argument("--pid-file", type=Path)
    p.add_argument("--process-label")
    p.add_argument("--apparmor")
    p.add_argument("--no-new-privs", action="store_true", default=None)
    p.add_argument("--cap", "-c", action="append", default=[])
    p.add_argument("--preserve-fds", type=int, default=0)
    p.add_argument("--cgroup", action="append", default=[])
    p.add_argument("--ignore-paused", action="store_true")
    p.add_argument("id")
    p.add_argument("args", nargs="...")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        return _exec(args)
    except CommandError as err:
        raise CommandError(f"exec failed: {err.message}", EXEC_FAILED) from None
    except BerthError as err:
        raise CommandError(f"exec failed: {err.message}", EXEC_FAILED) from None


def _exec(args: argparse.Namespace) -> int:
    runtime = NativeRuntime(state_root=args.root, subreaper=not args.detach)
    container = cstate.load(runtime, args.id)
    if container.status == "stopped":
        raise CommandError("cannot exec in a stopped container")
    if container.status == "paused" and not args.ignore_paused:
        raise CommandError("cannot exec in a paused container (use --ignore-paused to "
                           "override)")
    if args.cgroup:
        raise CommandError("--cgroup: sub-cgroups are not supported by berth-runtime")
    if args.preserve_fds:
        raise CommandError("--preserve-fds is not supported by berth-runtime exec")
    proc = process_from_args(args, cstate.created_spec(runtime, container))
    terminal = bool(proc.get("terminal"))
    cli_console.check_terminal(terminal, args.detach, args.console_socket)
    master: int | None = None
    if terminal:
        sock = cli_console.connect(args.console_socket) if args.console_socket else None
        if sock is None:
            cli_console.require_controlling_terminal()
        pid, master = _start(runtime, args.id, proc, None)
        if sock is not None:
            cli_console.send_master(sock, master)
            master = None
    else:
        pid, _ = _start(runtime, args.id, proc, Stdio(0, 1, 2))
    if args.pid_file:
        cli_console.write_pid_file(args.pid_file, pid)
    if args.detach:
        return 0
    cli_console.forward_signals(pid)
    return cli_console.wait(pid, master)


def _start(runtime: NativeRuntime, container_id: str, proc: oci.Process,
           stdio: Stdio | None) -> tuple[int, int]:
    try:
        if stdio is None:
            return runtime.exec_with_console(container_id, "", proc)
        return runtime.exec(container_id, "", proc, stdio), -1
    except BerthError as err:
        raise CommandError(f"unable to start container process: {err.message}") from None


def process_from_args(args: argparse.Namespace, spec_path: Path) -> oci.Process:
    """``spec_path``: the container's config.json as created (runc's exec starts from the
    container's process as created, not from a bundle edited since)."""
    if args.process is not None:
        try:
            raw = json.loads(args.process.read_text())
        except FileNotFoundError:
            raise CommandError(f"open {args.process}: no such file or directory") from None
        except ValueError as err:
            raise CommandError(f"{args.process}: {err}") from None
        return _validate(_defaults(raw))
    try:
        spec = json.loads(spec_path.read_text())
    except (OSError, ValueError) as err:
        raise CommandError(f"{spec_path}: {err}") from None
    proc = cast(dict[str, Any], copy.deepcopy(spec.get("process", {})))
    if not args.args:
        raise CommandError("process args cannot be empty")
    proc["args"] = list(args.args)
    if args.cwd:
        proc["cwd"] = args.cwd
    if args.cap:
        caps = proc.setdefault("capabilities", {})
        for name in _CAP_SETS:
            caps[name] = list(caps.get(name, [])) + list(args.cap)
    proc["env"] = list(proc.get("env", [])) + list(args.env)
    proc["terminal"] = bool(args.tty)
    if args.no_new_privs is not None:
        proc["noNewPrivileges"] = True
    user = proc.setdefault("user", {"uid": 0, "gid": 0})
    if args.user:
        uid, sep, gid = args.user.partition(":")
        if sep:
            user["gid"] = _int(gid, "gid")
        user["uid"] = _int(uid, "uid")
    for gid_value in args.additional_gids:
        if gid_value < 0:
            raise CommandError(f"additional-gids must be a positive number {gid_value}")
        user.setdefault("additionalGids", []).append(gid_value)
    return _validate(_defaults(proc))


def _int(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise CommandError(f'parsing {value} as int for {what} failed: strconv.Atoi: '
                           f'parsing "{value}": invalid syntax') from None


def _defaults(proc: dict[str, Any]) -> dict[str, Any]:
    """A process.json may leave out what Go's zero values fill in for runc."""
    proc.setdefault("user", {})
    proc["user"].setdefault("uid", 0)
    proc["user"].setdefault("gid", 0)
    proc.setdefault("env", [])
    proc.setdefault("args", [])
    proc.setdefault("cwd", "")
    return proc


def _validate(proc: dict[str, Any]) -> oci.Process:
    """runc's validateProcessSpec."""
    if not proc["cwd"]:
        raise CommandError("Cwd property must not be empty")
    if not str(proc["cwd"]).startswith("/"):
        raise CommandError("Cwd must be an absolute path")
    if not proc["args"]:
        raise CommandError("args must not be empty")
    return cast(oci.Process, proc)
