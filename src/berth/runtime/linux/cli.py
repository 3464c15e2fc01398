"""``berth-runtime``: the runc-compatible command line over ``NativeRuntime``.

Anything that drives runc drives it unchanged: the same commands, flags, output and exit
codes (runc 1.1 is the yardstick, compared side by side in
``tests/integration/runtime/test_runtime_cli_vs_runc.py``)::

    berth-runtime [--root DIR] [--debug] [--log FILE] [--log-format text|json] COMMAND

    create / run / start / kill / delete / state      this module (the lifecycle)
    exec                                              cli_exec
    list / ps                                         cli_query
    events                                            cli_events
    pause / resume / update                           cli_update
    spec / features                                   cli_spec

``create`` exits while init stays blocked on ``<root>/<id>/exec.fifo``; ``start`` (another
process) opens the FIFO to release it. Init inherits the CLI's stdio, as with runc, or,
with ``process.terminal``, gets a pty from the container's devpts (cli_console). A failed
command logs runc's message (cli_log) and exits 1.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from berth import __version__
from berth.errors import BerthError, InvalidArgument, NotFound, RuntimeFailure
from berth.runtime import Stdio
from berth.runtime.linux import (
    cli_console,
    cli_events,
    cli_exec,
    cli_log,
    cli_query,
    cli_spec,
    cli_update,
)
from berth.runtime.linux import state as cstate
from berth.runtime.linux.cli_log import CommandError
from berth.runtime.linux.runtime import DEFAULT_STATE_ROOT, NativeRuntime

OCI_VERSION = cstate.OCI_VERSION


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        cli_log.setup(args.log, args.log_format, args.debug)
        if args.version:
            print(f"berth-runtime version {__version__}\nspec: {OCI_VERSION}")
            return 0
        if args.command is None:
            raise CommandError("a command is required")
        cli_log.log.debug("%s: %s in %s", args.command, getattr(args, "id", ""), args.root)
        result: int = args.func(args)
        return result
    except CommandError as err:
        cli_log.fatal(err.message)
        return err.code
    except BerthError as err:
        cli_log.fatal(err.message)
        return 1


class _Parser(argparse.ArgumentParser):
    """Usage errors are runc's: logged like any error, exit status 1."""

    def error(self, message: str) -> NoReturn:
        raise CommandError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="berth-runtime")
    parser.add_argument("--root", type=Path, default=DEFAULT_STATE_ROOT)
    parser.add_argument("--debug", action="store_true", help="enable debug logging")
    parser.add_argument("--log", help="the log file (default is '/dev/stderr')")
    parser.add_argument("--log-format", default="text", help="'text' (default) or 'json'")
    parser.add_argument("--systemd-cgroup", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rootless", help=argparse.SUPPRESS)
    parser.add_argument("--criu", help=argparse.SUPPRESS)
    parser.add_argument("--version", "-v", action="store_true", help="print the version")
    sub = parser.add_subparsers(dest="command")

    for name, func in (("create", _create), ("run", _run)):
        p = sub.add_parser(name)
        p.add_argument("--bundle", "-b", type=Path, default=Path("."))
        p.add_argument("--pid-file", type=Path)
        p.add_argument("--console-socket")
        p.add_argument("--no-pivot", action="store_true")
        p.add_argument("--no-new-keyring", action="store_true")
        p.add_argument("--preserve-fds", type=int, default=0)
        if name == "run":
            p.add_argument("--detach", "-d", action="store_true")
            p.add_argument("--keep", action="store_true")
            p.add_argument("--no-subreaper", action="store_true")
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
    for module in (cli_exec, cli_query, cli_events, cli_update, cli_spec):
        module.register(sub)
    return parser


def _terminal(bundle: Path) -> bool:
    try:
        spec = json.loads((bundle / "config.json").read_text())
    except (OSError, ValueError):
        return False  # the runtime reports the bundle's problem in its own words
    return bool(isinstance(spec, dict) and spec.get("process", {}).get("terminal"))


def _create_container(args: argparse.Namespace, subreaper: bool, detach: bool
                      ) -> tuple[NativeRuntime, int, int | None]:
    """Create; return the runtime, init's pid and, for a foreground terminal without a
    console socket, the pty master the caller proxies. Errors are runc's "runc create
    failed: ..." (or run)."""
    try:
        runtime, pid, master = _create_inner(args, subreaper, detach)
    except CommandError as err:
        raise CommandError(f"berth-runtime {args.command} failed: {err.message}") from None
    if args.pid_file:
        cli_console.write_pid_file(args.pid_file, pid)
    return runtime, pid, master


def _create_inner(args: argparse.Namespace, subreaper: bool, detach: bool
                  ) -> tuple[NativeRuntime, int, int | None]:
    bundle = args.bundle.resolve()
    if not bundle.is_dir():
        raise CommandError(f"chdir {args.bundle}: no such file or directory")
    if not (bundle / "config.json").is_file():
        raise CommandError("JSON specification file config.json not found")
    terminal = _terminal(bundle)
    cli_console.check_terminal(terminal, detach, args.console_socket)
    if args.preserve_fds < 0:
        raise CommandError("--preserve-fds must be a positive number")
    runtime = NativeRuntime(state_root=args.root, subreaper=subreaper,
                            preserve_fds=args.preserve_fds, no_pivot=args.no_pivot)
    _check_new_id(runtime, args.id)
    try:
        if not terminal:
            return runtime, runtime.create(args.id, bundle, Stdio(0, 1, 2)), None
        sock = cli_console.connect(args.console_socket) if args.console_socket else None
        if sock is None:
            cli_console.require_controlling_terminal()
        pid, master = runtime.create_with_console(args.id, bundle)
        if sock is None:
            return runtime, pid, master
        cli_console.send_master(sock, master)
        return runtime, pid, None
    except RuntimeFailure as err:  # init reported: runc's words for a failed init
        raise CommandError(f"unable to start container process: {err.message}") from None
    except BerthError as err:
        raise CommandError(err.message) from None


def _check_new_id(runtime: NativeRuntime, container_id: str) -> None:
    try:
        runtime.state(container_id)
    except InvalidArgument:
        raise CommandError("invalid container ID format") from None
    except NotFound:
        return
    raise CommandError("container with given ID already exists")


def _create(args: argparse.Namespace) -> int:
    _create_container(args, subreaper=False, detach=True)
    return 0


def _run(args: argparse.Namespace) -> int:
    """create + start; in the foreground also wait (forwarding signals, proxying a
    terminal), then delete unless --keep; exit like runc (the container's status, 128+N
    for a signal)."""
    if args.detach:
        runtime, _, _ = _create_container(args, subreaper=False, detach=True)
        _start_or_delete(runtime, args.id)
        return 0
    # Always a subreaper (--no-subreaper is accepted): init is our grandchild, which we
    # can only wait for as its subreaper.
    runtime, pid, master = _create_container(args, subreaper=True, detach=False)
    try:
        cli_console.forward_signals(pid)
        _start_or_delete(runtime, args.id)
        return cli_console.wait(pid, master)
    finally:
        if not args.keep:
            runtime.delete(args.id)


def _start_or_delete(runtime: NativeRuntime, container_id: str) -> None:
    try:
        runtime.start(container_id)
    except BaseException:
        runtime.delete(container_id)
        raise


def _start(args: argparse.Namespace) -> int:
    runtime = NativeRuntime(state_root=args.root, subreaper=False)
    container = cstate.load(runtime, args.id)
    if container.status == "stopped":
        raise CommandError("cannot start a container that has stopped")
    if container.status != "created":
        raise CommandError("cannot start an already running container")
    runtime.start(args.id)
    return 0


def _kill(args: argparse.Namespace) -> int:
    runtime = NativeRuntime(state_root=args.root, subreaper=False)
    container = cstate.load(runtime, args.id)
    sig = parse_signal(args.signal)
    if args.all:
        cli_update.signal_all(container, sig)
        return 0
    if container.status == "stopped":
        raise CommandError("container not running")
    runtime.kill(args.id, sig)
    return 0


def _delete(args: argparse.Namespace) -> int:
    """runc's delete: a stopped or created container goes; a running or paused one only
    with --force; an unknown id is an error, except with --force."""
    runtime = NativeRuntime(state_root=args.root, subreaper=False)
    try:
        container = cstate.load(runtime, args.id)
    except CommandError as err:
        if args.force and err.message == cstate.NOT_EXIST:
            return 0
        raise
    if container.status in ("running", "paused") and not args.force:
        raise CommandError(f"cannot delete container {args.id} that is not stopped: "
                           f"{container.status}")
    runtime.delete(args.id, force=True)
    return 0


def _state(args: argparse.Namespace) -> int:
    runtime = NativeRuntime(state_root=args.root, subreaper=False)
    # runc's MarshalIndent, without a final newline.
    sys.stdout.write(json.dumps(cstate.document(cstate.load(runtime, args.id)), indent=2))
    return 0


def parse_signal(value: str) -> int:
    """"9", "KILL" or "SIGKILL" → 9."""
    if value.isdigit():
        return int(value)
    name = value.upper()
    try:
        return int(signal.Signals[name if name.startswith("SIG") else "SIG" + name])
    except KeyError:
        raise CommandError(f'unknown signal "{value}"') from None


if __name__ == "__main__":
    sys.exit(main())
