"""What every verb shares: its declaration, the invocation context, errors and exit codes.

A verb module (``berth.cli.commands.<verb>``) declares ``COMMAND`` (or several, for
``inspect``) and ``run(ctx, opts, args) -> int``; ``main`` loads it only when invoked.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import IO, TYPE_CHECKING, TextIO

from berth import errors
from berth.cli.flags import ArgCountError, Flag, FlagSet, Options, help_lines

if TYPE_CHECKING:
    from berth.client import Client

PROG = "berth"


class StatusError(Exception):
    """Stop with ``exit_code`` after printing ``message`` (if any) to stderr: docker's
    ``cli.StatusError``."""

    def __init__(self, exit_code: int, message: str = "") -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.message = message


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    flags: tuple[Flag, ...] = ()
    min_args: int = 0
    max_args: int | None = None
    interspersed: bool = True
    aliases: tuple[str, ...] = ()
    kind: str = ""  # which variant a module serves, e.g. inspect's "image"

    @cached_property
    def flagset(self) -> FlagSet:
        return FlagSet(self.flags, self.interspersed)

    def parse(self, path: str, argv: list[str]) -> tuple[Options, list[str]]:
        opts, args = self.flagset.parse(argv)
        if len(args) < self.min_args:
            plural = "" if self.min_args == 1 else "s"
            at_least = "exactly" if self.max_args == self.min_args else "at least"
            raise ArgCountError(f"{PROG}: '{path}' requires {at_least} {self.min_args} "
                                f"argument{plural}")
        if self.max_args is not None and len(args) > self.max_args:
            if self.max_args == 0:
                raise ArgCountError(f"{PROG}: '{path}' accepts no arguments")
            raise ArgCountError(f"{PROG}: '{path}' requires at most {self.max_args} "
                                f"argument{'' if self.max_args == 1 else 's'}")
        return opts, args

    def help(self, path: str) -> str:
        lines = [f"Usage:  {path} {self.usage}", "", self.summary, ""]
        if self.aliases:
            lines += ["Aliases:", "  " + ", ".join(f"{PROG} {a}" for a in self.aliases), ""]
        if self.flags:
            lines += ["Options:", *help_lines(self.flags), ""]
        return "\n".join(lines)


@dataclass
class Context:
    """One invocation: where the daemon is and where output goes (tests swap the
    streams). The client is built on first use, so ``--help`` never touches it."""

    host: str
    api_version: str
    path: str = PROG
    env: Mapping[str, str] = field(default_factory=dict)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)

    @cached_property
    def client(self) -> Client:
        from berth.client import Client

        return Client(self.host, self.api_version)

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
