"""Tokenising one logical Dockerfile line, before any instruction-specific parsing.

Three tokenisers, each with buildkit's exact quirks:

* :func:`split_command` — the instruction keyword, its leading ``--flags`` and the rest
  (``splitCommand``/``extractBuilderFlags``; flags always use ``\\`` as escape and lose
  their quotes);
* :func:`parse_words` — ENV/LABEL/ARG words: split on whitespace outside quotes, quotes
  and escapes *kept* (the expander strips them later, ``parseWords``);
* :class:`BuilderFlags` — typed ``--name=value`` parsing with docker's messages (``BFlags``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum

WHITESPACE = re.compile(r"[\t\v\f\r ]+")


def split_command(line: str) -> tuple[str, list[str], str]:
    """``(keyword, flags, rest)`` of a logical line; the keyword keeps its case."""
    parts = WHITESPACE.split(line.strip(), maxsplit=1)
    if len(parts) < 2:
        return parts[0], [], ""
    rest, flags = _extract_flags(parts[1])
    return parts[0], flags, rest.strip()


def _extract_flags(line: str) -> tuple[str, list[str]]:
    """Leading words that start with ``--``, and the line after them."""
    flags: list[str] = []
    pos = 0
    n = len(line)
    while True:
        while pos < n and line[pos].isspace():
            pos += 1
        if pos == n:
            return "", flags
        if not line.startswith("--", pos):
            return line[pos:], flags
        word, pos, blank_ok = _flag_word(line, pos)
        if word == "--":
            return line[pos:], flags
        if word or blank_ok:
            flags.append(word)


def _flag_word(line: str, pos: int) -> tuple[str, int, bool]:
    """One flag word from ``pos``: quotes removed, ``\\`` escapes the next character."""
    out: list[str] = []
    quote = ""
    blank_ok = False
    n = len(line)
    while pos < n:
        ch = line[pos]
        if not quote and ch.isspace():
            break
        pos += 1
        if quote and ch == quote:
            quote = ""
            continue
        if not quote and ch in "'\"":
            quote, blank_ok = ch, True
            continue
        if ch == "\\":
            if pos == n:
                break
            ch = line[pos]
            pos += 1
        out.append(ch)
    return "".join(out), pos, blank_ok


def parse_words(rest: str, escape: str) -> list[str]:
    """Whitespace-separated words with quotes and escapes preserved (``parseWords``)."""
    words: list[str] = []
    word: list[str] = []
    in_word = False
    blank_ok = False
    quote = ""
    i, n = 0, len(rest)
    while i < n:
        ch = rest[i]
        i += 1
        if quote:
            if ch == quote:
                quote = ""
            elif ch == escape and quote != "'":
                if i == n:
                    continue
                word.append(ch)
                ch = rest[i]
                i += 1
            word.append(ch)
            continue
        if ch.isspace():
            if in_word and (blank_ok or word):
                words.append("".join(word))
            word, in_word, blank_ok = [], False, False
            continue
        in_word = True
        if ch in "'\"":
            quote, blank_ok = ch, True
        elif ch == escape:
            if i == n:
                continue
            word.append(ch)
            ch = rest[i]
            i += 1
        word.append(ch)
    if in_word and (blank_ok or word):
        words.append("".join(word))
    return words


def levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def suggest(message: str, value: str, options: Iterable[str], case_sensitive: bool) -> str:
    """``message`` plus `` (did you mean X?)`` for a close option (buildkit ``suggest``)."""
    wanted = value if case_sensitive else value.lower()
    match, best = "", 3
    for option in sorted(options):
        candidate = option if case_sensitive else option.lower()
        if candidate == wanted:
            return message
        distance = levenshtein(wanted, candidate)
        if distance < best:
            match, best = candidate, distance
            if not case_sensitive and value == value.upper():
                match = candidate.upper()
    return f"{message} (did you mean {match}?)" if match else message


class FlagType(Enum):
    BOOL = "bool"
    STRING = "string"
    STRINGS = "strings"  # may repeat: --mount, --exclude


@dataclass
class BuilderFlags:
    """The flags one instruction accepts, filled from its ``--name=value`` words."""

    types: dict[str, FlagType]
    values: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)

    def parse(self, words: Sequence[str]) -> None:
        """Fill the values; raises ``ValueError`` with docker's wording."""
        for arg in words:
            if not arg.startswith("--"):
                raise ValueError(f"arg should start with -- : {arg}")
            if arg == "--":
                return
            name, eq, value = arg[2:].partition("=")
            kind = self.types.get(name)
            if kind is None:
                raise ValueError(suggest(f"unknown flag: {name}", name, self.types, True))
            if kind is not FlagType.STRINGS and name in self.values:
                raise ValueError(f"duplicate flag specified: {name}")
            if kind is FlagType.BOOL:
                if eq and not value:
                    raise ValueError(f"missing a value on flag: {name}")
                if value.lower() not in ("", "true", "false"):
                    raise ValueError(f"expecting boolean value for flag {name}, not: {value}")
                self.values[name] = value.lower() or "true"
                continue
            if not eq:
                raise ValueError(f"missing a value on flag: {name}")
            self.values[name] = value
            self.lists.setdefault(name, []).append(value)

    def string(self, name: str) -> str | None:
        return self.values.get(name)

    def boolean(self, name: str) -> bool:
        return self.values.get(name) == "true"

    def strings(self, name: str) -> tuple[str, ...]:
        return tuple(self.lists.get(name, ()))
