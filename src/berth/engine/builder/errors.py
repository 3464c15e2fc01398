"""The error every Dockerfile stage of ``docker build`` groundwork raises.

It extends the one tree in :mod:`berth.errors` (a bad Dockerfile is the client's fault,
so it is an ``InvalidArgument``, HTTP 400), and carries the 1-based line the problem
starts on when there is one. The message is exactly the text docker (buildkit's
``frontend/dockerfile``) prints, e.g. ``dockerfile parse error on line 3: unknown
instruction: RUNN (did you mean RUN?)``.
"""

from __future__ import annotations

from berth.errors import BerthError, InvalidArgument


class DockerfileError(InvalidArgument):
    """A Dockerfile that cannot be parsed, expanded or planned into stages."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def parse_error(reason: str, line: int) -> DockerfileError:
    """The error for one bad instruction, worded as buildkit's ``parseError``."""
    return DockerfileError(f"dockerfile parse error on line {line}: {reason}", line)


class CommandFailed(BerthError):
    """A RUN whose command exited non-zero; ``code`` is its exit code (docker's
    ``errorDetail.code``)."""

    def __init__(self, command: str, code: int) -> None:
        super().__init__(f"The command '{command}' returned a non-zero code: {code}")
        self.code = code
