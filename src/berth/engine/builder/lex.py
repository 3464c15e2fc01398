"""Docker's variable substitution and word splitting (buildkit ``frontend/dockerfile/shell``).

The builder, not a shell, expands ``$VAR`` in these instructions: ADD, COPY, ENV, EXPOSE,
FROM, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR (and ARG names and defaults, and the
``--chown``/``--chmod``/``--from`` flag values). RUN, CMD, ENTRYPOINT, SHELL and
HEALTHCHECK are left alone (the container's shell expands them at run time), and ONBUILD
triggers are expanded only when they fire in the child image. See :data:`EXPANDED`.

Supported forms, as buildkit::

    $VAR  ${VAR}                      value, or "" when unset
    ${VAR:-word}  ${VAR-word}         word when unset or empty / only when unset
    ${VAR:+word}  ${VAR+word}         word when set and non-empty / when set
    ${VAR:?msg}   ${VAR?msg}          error "VAR: msg" when unset or empty / unset
    ${VAR#pat} ${VAR##pat}            strip shortest/longest prefix matching a glob
    ${VAR%pat} ${VAR%%pat}            strip shortest/longest suffix matching a glob
    ${VAR/pat/repl} ${VAR//pat/repl}  replace first/every match of a glob

Single quotes are literal; inside double quotes only ``$``, ``"`` and the escape
character are special; the escape character (``\\`` or the ``# escape=`` one) makes the
next character literal. Word splitting happens after substitution: a value substituted
outside quotes splits on whitespace, quoted text never does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from berth.engine.builder.errors import DockerfileError
from berth.formats.goformat import go_quote

EXPANDED: frozenset[str] = frozenset(
    {"ADD", "ARG", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL", "USER", "VOLUME",
     "WORKDIR"}
)
"""Instructions whose arguments the builder expands before use."""

_SPECIAL_PARAMS = frozenset("@*#?-$!0")
_EOF = ""


class _SyntaxError(Exception):
    """Internal: a lexing error, wrapped with the source text at the top."""


@dataclass
class _Words:
    """Accumulates the split words next to the joined result (buildkit ``wordsStruct``)."""

    word: str = ""
    words: list[str] = field(default_factory=list)
    in_word: bool = False

    def add_char(self, ch: str) -> None:
        if ch.isspace():
            if self.in_word and self.word:
                self.words.append(self.word)
                self.word = ""
                self.in_word = False
        else:
            self.add_raw(ch)

    def add_raw(self, text: str) -> None:
        self.word += text
        self.in_word = True

    def add_split(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def finish(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word = ""
            self.in_word = False
        return self.words


@dataclass(frozen=True)
class Lexer:
    """A configured ``shell.Lex``; the keyword-only switches serve the heredoc detector.

    ``raw_quotes`` keeps quote characters in the output, ``raw_escapes`` keeps escape
    characters, ``skip_unset`` leaves references to unset variables as written.
    """

    escape: str = "\\"
    raw_quotes: bool = False
    raw_escapes: bool = False
    skip_unset: bool = False

    def process(self, text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
        """The expanded text and its split words."""
        scan = _Scan(self, text, env)
        try:
            return scan.until(frozenset(), self.raw_escapes)
        except _SyntaxError as err:
            raise DockerfileError(f"failed to process {go_quote(text)}: {err}") from None


def expand(text: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """``text`` with variables substituted and quotes removed, spaces kept (ProcessWord)."""
    return Lexer(escape).process(text, env)[0]


def expand_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """``text`` substituted, then split into words (ProcessWords)."""
    return Lexer(escape).process(text, env)[1]


class _Scan:
    """One pass over a text: a cursor plus the lexer's switches."""

    def __init__(self, lexer: Lexer, text: str, env: Mapping[str, str]) -> None:
        self.lexer = lexer
        self.text = text
        self.pos = 0
        self.env = env
        self.raw_escapes = lexer.raw_escapes

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else _EOF

    def next(self) -> str:
        ch = self.peek()
        self.pos += 1 if ch else 0
        return ch

    def until(self, stops: frozenset[str], raw_escapes: bool) -> tuple[str, list[str]]:
        """Process up to (and past) one of ``stops``; all the text when ``stops`` is empty."""
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._until(stops)
        finally:
            self.raw_escapes = saved

    def _until(self, stops: frozenset[str]) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        while (ch := self.peek()) != _EOF:
            if ch in stops:
                self.next()
                return "".join(result), words.finish()
            if ch == "$":
                value = self.dollar()
                words.add_split(value)
            elif ch == "'":
                value = self.single_quote()
                words.add_raw(value)
            elif ch == '"':
                value = self.double_quote()
                words.add_raw(value)
            else:
                value = self.next()
                if value == self.lexer.escape:
                    if self.raw_escapes:
                        words.add_raw(value)
                        result.append(value)
                    value = self.next()
                    if value == _EOF:
                        break
                    words.add_raw(value)
                else:
                    words.add_char(value)
            result.append(value)
        if stops:
            raise _SyntaxError(
                f"unexpected end of statement while looking for matching {min(stops)}")
        return "".join(result), words.finish()

    def single_quote(self) -> str:
        quote = self.next()
        out = [quote] if self.lexer.raw_quotes else []
        while (ch := self.next()) != "'":
            if ch == _EOF:
                raise _SyntaxError(
                    "unexpected end of statement while looking for matching single-quote")
            out.append(ch)
        if self.lexer.raw_quotes:
            out.append(ch)
        return "".join(out)

    def double_quote(self) -> str:
        quote = self.next()
        out = [quote] if self.lexer.raw_quotes else []
        while True:
            ch = self.peek()
            if ch == _EOF:
                raise _SyntaxError(
                    "unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.next()
                if self.lexer.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            ch = self.next()
            if ch == self.lexer.escape:
                if self.raw_escapes:
                    out.append(ch)
                following = self.peek()
                if following == _EOF:
                    continue
                if following in ('"', "$", self.lexer.escape):
                    ch = self.next()
            out.append(ch)

    def name(self) -> str:
        """A variable name: digits, one special parameter, or letters/digits/_."""
        ch = self.peek()
        if ch.isdigit():
            start = self.pos
            while self.peek().isdigit():
                self.next()
            return self.text[start:self.pos]
        if ch and ch in _SPECIAL_PARAMS:
            return self.next()
        start = self.pos
        while (ch := self.peek()) and (ch.isalnum() or ch == "_"):
            self.next()
        return self.text[start:self.pos]

    def lookup(self, name: str) -> str | None:
        return self.env.get(name)

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value = self.lookup(name)
            if value is None:
                return "$" + name if self.lexer.skip_unset else ""
            return value
        self.next()
        return self.braced()

    def braced(self) -> str:
        ch = self.peek()
        if ch == _EOF:
            raise _SyntaxError("syntax error: missing '}'")
        if ch in "{}:":
            raise _SyntaxError("syntax error: bad substitution")
        name = self.name()
        op = self.next()
        value = self.lookup(name)
        if op == "}":
            if value is None and self.lexer.skip_unset:
                return "${" + name + "}"
            return value or ""
        if op == _EOF:
            raise _SyntaxError("syntax error: missing '}'")
        if op == "/":
            return self.replace(name, value)
        null_is_unset = op == ":"
        if null_is_unset:
            op = self.next()
        modifier = (":" if null_is_unset else "") + op
        if op in ("#", "%") and null_is_unset:
            raise _SyntaxError(f"unsupported modifier ({modifier}) in substitution")
        word = self.operand(frozenset("}"), raw_escapes=op in ("#", "%"))
        if value is None and self.lexer.skip_unset:
            return "${" + name + modifier + word + "}"
        unset = value is None or (null_is_unset and value == "")
        if op == "-":
            return word if unset else value or ""
        if op == "+":
            return "" if unset else word
        if op == "?":
            if unset:
                empty = value is not None
                reason = word or ("is not allowed to be empty" if empty
                                  else "is not allowed to be unset")
                raise _SyntaxError(f"{name}: {reason}")
            return value or ""
        if op in ("#", "%"):
            return _trim(value or "", word, op, self.lexer.escape)
        raise _SyntaxError(f"unsupported modifier ({modifier}) in substitution")

    def operand(self, stops: frozenset[str], raw_escapes: bool) -> str:
        try:
            return self.until(stops, raw_escapes)[0]
        except _SyntaxError:
            if self.peek() == _EOF:
                raise _SyntaxError("syntax error: missing '}'") from None
            raise

    def replace(self, name: str, value: str | None) -> str:
        every = self.peek() == "/"
        if every:
            self.next()
        pattern = self.operand(frozenset("/}"), raw_escapes=True)
        replacement = ""
        if self.text[self.pos - 1] == "/":  # the stop character until() consumed
            replacement = self.operand(frozenset("}"), raw_escapes=False)
        if value is None and self.lexer.skip_unset:
            return "${" + name + ("//" if every else "/") + pattern + "/" + replacement + "}"
        regex = re.compile(glob_to_regex(pattern, self.lexer.escape, greedy=True))
        return regex.sub(lambda _m: replacement, value or "", count=0 if every else 1)


def glob_to_regex(pattern: str, escape: str = "\\", *, greedy: bool = True) -> str:
    """A shell glob (``*``, ``?``, ``[...]``, escaped characters) as a Python regex."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(".*" if greedy else ".*?")
        elif ch == "?":
            out.append(".")
        elif ch == escape and i < len(pattern):
            out.append(re.escape(pattern[i]))
            i += 1
        elif ch == "[" and (end := pattern.find("]", i + 1)) != -1:
            body = pattern[i:end]
            if body[:1] in ("!", "^"):
                body = "^" + body[1:].replace("\\", "\\\\")
            else:
                body = body.replace("\\", "\\\\")
            out.append("[" + body + "]")
            i = end + 1
        else:
            out.append(re.escape(ch))
    return "".join(out)


def _trim(value: str, word: str, op: str, escape: str) -> str:
    """``${VAR#word}`` and friends: strip the shortest (``#``) or longest (``##``) match."""
    longest = word.startswith(op)
    if longest:
        word = word[1:]
    regex = re.compile(glob_to_regex(word, escape), re.DOTALL)
    cuts = range(len(value) + 1)
    if op == "#":
        for i in reversed(cuts) if longest else cuts:
            if regex.fullmatch(value[:i]):
                return value[i:]
    else:
        for i in cuts if longest else reversed(cuts):
            if regex.fullmatch(value[i:]):
                return value[:i]
    return value
