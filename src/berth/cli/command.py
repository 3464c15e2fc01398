"""What every verb shares: its declaration, the invocation context, errors and exit codes.

A verb module (``berth.cli.commands.<verb>``) declares ``COMMAND`` (or several, for
``inspect``) and ``run(ctx, opts, args) -> int``; ``main`` loads it only when invoked.
"""

from __future__ import annotations

import sys

from berth import errors
from berth.cli.flags import ArgCountError, FlagSet, help_lines

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import IO, Final, TextIO

    from berth.cli.flags import Flag, Options
    from berth.client import Client
    from berth.client.tls import TLSOptions

PROG = "berth"


class StatusError(Exception):
    """Stop with ``exit_code`` after printing ``message`` (if any) to stderr: docker's
    ``cli.StatusError``."""

    def __init__(self, exit_code: int, message: str = "") -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.message = message


class Command:
    """A verb's declaration. Plain classes here and in ``flags``: ``dataclasses`` (with
    ``inspect`` and ``typing``) would cost more at start-up than the whole dispatch."""

    __slots__ = (
        "_flagset",
        "aliases",
        "flags",
        "interspersed",
        "kind",
        "max_args",
        "min_args",
        "name",
        "summary",
        "usage",
    )
    name: Final[str]
    usage: Final[str]
    summary: Final[str]
    flags: Final[tuple[Flag, ...]]
    min_args: Final[int]
    max_args: Final[int | None]
    interspersed: Final[bool]
    aliases: Final[tuple[str, ...]]
    kind: Final[str]  # which variant a module serves, e.g. inspect's "image"

    def __init__(self, name: str, usage: str, summary: str, flags: tuple[Flag, ...] = (),
                 min_args: int = 0, max_args: int | None = None, interspersed: bool = True,
                 aliases: tuple[str, ...] = (), kind: str = "") -> None:
        self.name = name
        self.usage = usage
        self.summary = summary
        self.flags = flags
        self.min_args = min_args
        self.max_args = max_args
        self.interspersed = interspersed
        self.aliases = aliases
        self.kind = kind
        self._flagset: FlagSet | None = None

    @property
    def flagset(self) -> FlagSet:
        if self._flagset is None:
            self._flagset = FlagSet(self.flags, self.interspersed)
        return self._flagset

    def parse(self, path: str, argv: list[str]) -> tuple[Options, list[str]]:
        opts, args = self.flagset.parse(argv)
        low, high = self.min_args, self.max_args
        if low <= len(args) and (high is None or len(args) <= high):
            return opts, args
        # docker's cli.NoArgs, ExactArgs, RequiresMinArgs, RequiresMaxArgs and
        # RequiresRangeArgs, each in its own words
        what = f"{PROG}: '{path}'"
        if high == 0:
            raise ArgCountError(f"{what} accepts no arguments", "Run")
        if high is None:
            raise ArgCountError(f"{what} requires at least {low} {_arguments(low)}", "See")
        if low == high:
            raise ArgCountError(f"{what} requires {low} {_arguments(low)}", "Run")
        if low == 0:
            raise ArgCountError(f"{what} requires at most {high} {_arguments(high)}", "SRun")
        raise ArgCountError(f"{what} requires at least {low} and at most {high} "
                            f"{_arguments(high)}", "Run")

    def help(self, path: str) -> str:
        lines = [f"Usage:  {path} {self.usage}", "", self.summary, ""]
        if self.aliases:
            lines += ["Aliases:", "  " + ", ".join(f"{PROG} {a}" for a in self.aliases), ""]
        if self.flags:
            lines += ["Options:", *help_lines(self.flags), ""]
        return "\n".join(lines)


def _arguments(count: int) -> str:
    return "argument" if count == 1 else "arguments"


class Context:
    """One invocation: where the daemon is (and how to reach it: ``tls`` for tcp://
    hosts) and where output goes (tests swap the streams). The client is built on first
    use, so ``--help`` never touches it."""

    def __init__(self, host: str, api_version: str, path: str = PROG,
                 env: Mapping[str, str] | None = None, stdout: TextIO | None = None,
                 stderr: TextIO | None = None, stdin: TextIO | None = None,
                 tls: TLSOptions | None = None) -> None:
        self.host = host
        self.tls = tls
        self.api_version = api_version
        self.path = path
        self.env: Mapping[str, str] = {} if env is None else env
        self.stdout: TextIO = sys.stdout if stdout is None else stdout
        self.stderr: TextIO = sys.stderr if stderr is None else stderr
        self.stdin: TextIO = sys.stdin if stdin is None else stdin
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            from berth.client import Client

            self._client = Client(self.host, self.api_version, self.tls)
        return self._client

    def out(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def err(self, text: str) -> None:
        self.stderr.write(text + "\n")

    @property
    def bout(self) -> IO[bytes]:
        """Binary stdout for container output (bytes pass through untouched)."""
        self.stdout.flush()
        return self.stdout.buffer

    @property
    def berr(self) -> IO[bytes]:
        self.stderr.flush()
        return self.stderr.buffer


def daemon_message(err: errors.BerthError) -> str:
    return f"Error response from daemon: {err.message}"


def reraise_unreachable(err: errors.BerthError) -> None:
    """A verb that reports daemon errors itself still leaves "cannot connect" to main."""
    from berth.client import DaemonUnreachable

    if isinstance(err, DaemonUnreachable):
        raise err


def each(ctx: Context, targets: Iterable[str], action: Callable[[str], str | None]) -> int:
    """Apply ``action`` to every target as docker's multi-target verbs do: print what it
    returns (the target by default), report each failure, and exit 1 if any failed."""
    failed = False
    for target in targets:
        try:
            shown = action(target)
        except errors.BerthError as err:
            reraise_unreachable(err)
            ctx.err(daemon_message(err))
            failed = True
            continue
        ctx.out(target if shown is None else shown)
    return 1 if failed else 0


def run_error(path: str, err: errors.BerthError, exit_code: int = 125) -> StatusError:
    """docker's form for a failed run/create/start: ``docker: Error response ...``."""
    reraise_unreachable(err)
    return StatusError(exit_code, f"{PROG}: {daemon_message(err)}\n\n"
                                  f"Run '{path} --help' for more information")
