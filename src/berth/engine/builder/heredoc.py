"""Recognising heredoc markers (``<<EOF``, ``<<-EOF``, ``<<"EOF"``, ``3<<EOF``) in a line.

Buildkit finds them by lexing the whole line with quotes and escapes kept and unset
variables left alone, then matching each word against ``^(\\d*)<<(-?)([^<]*)$``. The
delimiter's name is the word with quotes removed; if removing quotes changed anything
(``<<"EOF"``, ``<<'EOF'``, ``<<E"O"F``) the body is not expanded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from berth.engine.builder.errors import DockerfileError
from berth.engine.builder.lex import Lexer

_MARKER = re.compile(r"^(\d*)<<(-?)([^<]*)$", re.DOTALL)
_WORDS = Lexer("\\", skip_unset=True)
_RAW_WORDS = Lexer("\\", raw_quotes=True, skip_unset=True)
_LINE = Lexer("\\", raw_quotes=True, raw_escapes=True, skip_unset=True)

HEREDOC_KEYWORDS = frozenset({"ADD", "COPY", "RUN"})
"""Instructions that may carry heredocs (ONBUILD too, when its trigger is one of these)."""


@dataclass(frozen=True)
class Marker:
    """A heredoc marker before its body is read."""

    name: str
    expand: bool
    chomp: bool
    fd: int


def parse_marker(word: str) -> Marker | None:
    """The marker ``word`` spells, or None if it is an ordinary word."""
    match = _MARKER.match(word)
    if match is None or not match.group(3):
        return None
    rest = match.group(3)
    words = _WORDS.process(rest, {})[1]
    if len(words) != 1:
        return None
    raw = _RAW_WORDS.process(rest, {})[1]
    quotes = sum(words[0].count(q) for q in "'\"")
    raw_quotes = sum(raw[0].count(q) for q in "'\"")
    return Marker(
        name=words[0],
        expand=quotes == raw_quotes,
        chomp=match.group(2) == "-",
        fd=int(match.group(1) or "0"),
    )


def markers_in_line(line: str) -> list[Marker]:
    """Every heredoc marker of a logical line, in order."""
    try:
        words = _LINE.process(line, {})[1]
    except DockerfileError:  # buildkit ignores lexing errors here: no heredocs then
        return []
    return [marker for word in words if (marker := parse_marker(word)) is not None]


def chomp(content: str) -> str:
    """``<<-`` bodies lose the leading tabs of every line."""
    return re.sub(r"(?m)^\t+", "", content)
