"""``berth-runtime``: the runc-compatible command line over ``NativeRuntime``.

The subset containerd-style callers (and ``OciCliRuntime``) use::

    berth-runtime [--root DIR] create --bundle B [--pid-file F] ID
    berth-runtime [--root DIR] start ID
    berth-runtime [--root DIR] kill ID [SIGNAL]
    berth-runtime [--root DIR] delete [--force] ID
    berth-runtime [--root DIR] state ID
    berth-runtime [--root DIR] run --bundle B [--pid-file F] ID

``create`` exits while init stays blocked on ``<root>/<id>/exec.fifo``; ``start`` (another
process) opens the FIFO to release it. Init inherits the CLI's stdio, as with runc.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from berth.errors import BerthError, InvalidArgument
from berth.runtime import Stdio
from berth.runtime.linux.runtime import DEFAULT_STATE_ROOT, NativeRuntime

OCI_VERSION = "1.0.2"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        result: int = args.func(args)
        return result
    except BerthError as err:
        print(f"berth-runtime: {err.message}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="berth-runtime")
    parser.add_argument("--root", type=Path, default=DEFAULT_STATE_ROOT)
    # Accepted for runc compatibility; logs go to stderr.
    parser.add_argument("--log", help=argparse.SUPPRESS)
    parser.add_argument("--log-format", help=argparse.SUPPRESS)
    parser.add_argument("--systemd-cgroup", action="store_true", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)

    for name, func in (("create", _create), ("run", _run)):
        p = sub.add_parser(name)
        p.add_argument("--bundle", "-b", type=Path, default=Path("."))
        p.add_argument("--pid-file", type=Path)
        p.add_argument("--console-socket")
        p.add_argument("id")
        p.set_defaults(func=func)
    p = sub.add_parser("start")
    p.add_argument("id")
    p.set_defaults(func=_start)
    p = sub.add_parser("kill")
    p.add_argument("--all", "-a", action="store_true")
    p.add_argument("id")
    p.add_argument("signal", nargs="?", default="SIGTERM")
    p.set_defaults(func=_kill)
    p = sub.add_parser("delete")
    p.add_argument("--force", "-f", action="store_true")
    p.add_argument("id")
    p.set_defaults(func=_delete)
    p = sub.add_parser("state")
    p.add_argument("id")
    p.set_defaults(func=_state)
    return parser


def _create_container(args: argparse.Namespace, subreaper: bool) -> tuple[NativeRuntime, int]:
    if args.console_socket:
        raise NotImplementedError("--console-socket: terminals are not supported by berth-runtime")
    runtime = NativeRuntime(state_root=args.root, subreaper=subreaper)
    pid = runtime.create(args.id, args.bundle.resolve(), Stdio(0, 1, 2))
    if args.pid_file:
        tmp = args.pid_file.with_name(args.pid_file.name + ".tmp")
        tmp.write_text(str(pid))
        os.rename(tmp, args.pid_file)
    return runtime, pid


def _create(args: argparse.Namespace) -> int:
    _create_container(args, subreaper=False)
    return 0


def _run(args: argparse.Namespace) -> int:
    """create + start + wait, forwarding signals, then delete; exit like runc (the
    container's status, 128+N for a signal)."""
    runtime, pid = _create_container(args, subreaper=True)
    try:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(sig, lambda signum, _frame: os.kill(pid, signum))
        runtime.start(args.id)
        _, status = os.waitpid(pid, 0)
    finally:
        runtime.delete(args.id)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _start(args: argparse.Namespace) -> int:
    NativeRuntime(state_root=args.root, subreaper=False).start(args.id)
    return 0


def _kill(args: argparse.Namespace) -> int:
    NativeRuntime(state_root=args.root, subreaper=False).kill(args.id, parse_signal(args.signal))
    return 0


def _delete(args: argparse.Namespace) -> int:
    NativeRuntime(state_root=args.root, subreaper=False).delete(args.id, force=args.force)
    return 0


def _state(args: argparse.Namespace) -> int:
    runtime = NativeRuntime(state_root=args.root, subreaper=False)
    state = runtime.state(args.id)
    status = runtime.status(args.id)
    doc = {
        "ociVersion": OCI_VERSION, "id": state.id,
        "pid": 0 if status == "stopped" else state.pid, "status": status,
        "bundle": state.bundle, "rootfs": state.rootfs, "created": state.created,
        "owner": "",
    }
    print(json.dumps(doc, indent=2))
    return 0


def parse_signal(value: str) -> int:
    """"9", "KILL" or "SIGKILL" → 9."""
    if value.isdigit():
        return int(value)
    name = value.upper()
    try:
        return int(signal.Signals[name if name.startswith("SIG") else "SIG" + name])
    except KeyError:
        raise InvalidArgument(f"unknown signal {value!r}") from None


if __name__ == "__main__":
    sys.exit(main())
