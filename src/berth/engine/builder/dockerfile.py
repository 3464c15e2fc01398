"""The Dockerfile reader: physical lines → logical lines → typed instructions.

Follows buildkit's ``frontend/dockerfile/parser.Parse`` line by line::

    # syntax=docker/dockerfile:1      parser directives: only before anything else
    # escape=`                        (syntax, escape, check; each at most once)
    FROM alpine AS base               first line of an instruction: leading blanks and a
                                      whole-line ``# comment`` are dropped
    RUN echo a \\                      escape char at the end (then blanks) continues
      # a comment line                comment lines inside a continuation are skipped,
                                      and so are empty ones (with a warning)
        && echo b                     continuation lines keep their leading blanks
    RUN <<EOF                         RUN/COPY/ADD (and ONBUILD of them) in shell form
    echo body                         read heredoc bodies after the logical line, raw,
    EOF                               up to a line equal to the delimiter

Errors are :class:`DockerfileError`; an instruction's carries docker's
``dockerfile parse error on line N: ...`` wording, a reader-level one ("unterminated
heredoc", a repeated directive) the bare reason with ``line`` set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from berth.engine.builder.errors import DockerfileError, parse_error
from berth.engine.builder.heredoc import HEREDOC_KEYWORDS, Marker, chomp, markers_in_line
from berth.engine.builder.instruction_parser import LogicalLine, json_args, parse_instruction
from berth.engine.builder.instructions import Heredoc, Instruction
from berth.engine.builder.words import split_command

_DIRECTIVE = re.compile(r"^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_DIRECTIVES = frozenset({"syntax", "escape", "check"})
_BOM = "\ufeff"


@dataclass(frozen=True)
class Directive:
    name: str  # lower case: syntax, escape, check
    value: str
    line: int


@dataclass(frozen=True)
class Dockerfile:
    instructions: tuple[Instruction, ...]
    directives: tuple[Directive, ...]
    escape: str
    warnings: tuple[str, ...] = ()

    def directive(self, name: str) -> str | None:
        return next((d.value for d in self.directives if d.name == name), None)


def parse(source: str | bytes) -> Dockerfile:
    """Parse a whole Dockerfile; raises :class:`DockerfileError`."""
    text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
    if not text:
        raise DockerfileError("the Dockerfile cannot be empty")
    return _Reader(text.removeprefix(_BOM)).read()


def _physical_lines(text: str) -> list[str]:
    """Lines with their endings kept, split on ``\\n`` only (Go's scanLines)."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def _is_comment(raw: str) -> bool:
    return raw.rstrip("\r\n").lstrip().startswith("#")


class _Reader:
    def __init__(self, text: str) -> None:
        self.lines = _physical_lines(text)
        self.pos = 0  # index of the next physical line; == 1-based number of the last read
        self.escape = "\\"
        self.continuation = self._continuation_regex()
        self.directives: list[Directive] = []
        self.directives_done = False
        self.warnings: list[str] = []

    def _continuation_regex(self) -> re.Pattern[str]:
        e = re.escape(self.escape)
        return re.compile(rf"([^{e}]){e}[ \t]*$|^{e}[ \t]*$")

    def read(self) -> Dockerfile:
        nodes: list[Instruction] = []
        while self.pos < len(self.lines):
            node = self._next_instruction()
            if node is not None:
                nodes.append(node)
        if not nodes:
            raise DockerfileError("file with no instructions", self.pos)
        if self.warnings:
            self.warnings.append(
                "[WARNING]: Empty continuation lines will become errors in a future release.")
        return Dockerfile(tuple(nodes), tuple(self.directives), self.escape,
                          tuple(self.warnings))

    def _take(self, strip_left: bool) -> tuple[str, str]:
        """The next physical line raw, and processed: newline and comment removed."""
        raw = self.lines[self.pos]
        self.pos += 1
        token = raw.rstrip("\r\n")
        if strip_left:
            token = token.lstrip()
        self._directive(token)
        return raw, "" if token.startswith("#") else token

    def _directive(self, token: str) -> None:
        if self.directives_done:
            return
        match = _DIRECTIVE.match(token[1:].lstrip()) if token.startswith("#") else None
        name = match.group(1).lower() if match else ""
        if match is None or name not in _DIRECTIVES:
            self.directives_done = True
            return
        if any(d.name == name for d in self.directives):
            raise DockerfileError(f"only one {name} parser directive can be used", self.pos)
        value = match.group(2)
        if name == "escape":
            if value not in ("\\", "`"):
                raise DockerfileError(
                    f"invalid escape token '{value}' does not match ` or \\", self.pos)
            self.escape = value
            self.continuation = self._continuation_regex()
        self.directives.append(Directive(name, value, self.pos))

    def _trim_continuation(self, token: str) -> tuple[str, bool]:
        """The line without its continuation character, and whether the logical line ends."""
        trimmed, count = self.continuation.subn(r"\1", token, count=1)
        return trimmed, count == 0

    def _next_instruction(self) -> Instruction | None:
        _, token = self._take(strip_left=True)
        start = self.pos
        text, complete = self._trim_continuation(token)
        if complete and not text:
            return None
        empty_continuation = False
        while not complete and self.pos < len(self.lines):
            raw, token = self._take(strip_left=False)
            if _is_comment(raw):
                continue
            if not token.strip():
                empty_continuation = True
                continue
            part, complete = self._trim_continuation(token)
            text += part
        if empty_continuation:
            self.warnings.append("[WARNING]: Empty continuation line found in:\n    " + text)
        heredocs = self._heredocs(text, start)
        logical = LogicalLine(text=text, line=start, end_line=self.pos, escape=self.escape,
                              heredocs=heredocs)
        try:
            return parse_instruction(logical)
        except ValueError as err:
            raise parse_error(str(err), start) from None
        except DockerfileError as err:
            raise parse_error(err.message, start) from None

    def _heredocs(self, text: str, start: int) -> tuple[Heredoc, ...]:
        if not _may_have_heredocs(text):
            return ()
        try:
            markers = markers_in_line(text)
        except DockerfileError as err:
            raise DockerfileError(err.message, start) from None
        return tuple(self._body(marker, start) for marker in markers)

    def _body(self, marker: Marker, start: int) -> Heredoc:
        content: list[str] = []
        while self.pos < len(self.lines):
            raw = self.lines[self.pos]
            self.pos += 1
            candidate = raw.rstrip("\r\n")
            if marker.chomp:
                candidate = candidate.lstrip("\t")
            if candidate == marker.name:
                body = "".join(content)
                return Heredoc(name=marker.name, content=chomp(body) if marker.chomp else body,
                               expand=marker.expand, chomp=marker.chomp, fd=marker.fd)
            content.append(raw)
        raise DockerfileError("unterminated heredoc", start)


def _may_have_heredocs(text: str) -> bool:
    """RUN/COPY/ADD, or ONBUILD of one, in shell (non-JSON) form (``canContainHeredoc``)."""
    keyword, _, rest = split_command(text)
    if keyword.upper() == "ONBUILD":
        keyword, _, rest = split_command(rest)
    if keyword.upper() not in HEREDOC_KEYWORDS:
        return False
    try:
        return json_args(rest) is None
    except ValueError:
        return False
