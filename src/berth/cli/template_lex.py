"""Lexer for the Go text/template subset behind docker's ``--format``.

A port of Go's ``text/template/parse/lex.go`` for the default ``{{ }}`` delimiters. It
turns a template into tokens ``(kind, value, pos, line)``; ``pos`` is the character
offset into the template (error messages turn it into Go's line:byte-column).

Trim markers: ``{{- `` drops the white space before the action and `` -}}`` the white
space after it; the space next to the ``-`` is required, so ``{{-3}}`` is the number -3.
A comment ``{{/* ... */}}`` must touch its delimiters (``{{- /* ... */ -}}`` may trim).

Go lexes lazily, in step with the parser, so an earlier parse error wins over a later
lexical one. To keep that order this lexer does not raise: it ends the token list with an
``error`` token and the parser raises when it reaches it.
"""

from __future__ import annotations

Token = tuple[str, str, int, int]  # kind, value, pos, line


class TemplateError(ValueError):
    """A --format template failed to parse or to execute; the message is Go's."""


SPACE = " \t\r\n"
KEYWORDS = frozenset(
    ("block", "break", "continue", "define", "else", "end", "if", "nil", "range", "template",
     "with")
)
_SPACES = frozenset(SPACE)
_TERMINATORS = frozenset(".,|:()") | _SPACES
_SIMPLE = {"=": "assign", "|": "pipe", "(": "lparen", ")": "rparen"}


class _Stop(Exception):
    """Raised inside the lexer after it emitted an ``error`` token."""


def _alnum(ch: str) -> bool:
    return ch == "_" or ch.isalnum()


def unicode_name(ch: str) -> str:
    """Go's ``%#U``: ``U+0023 '#'``."""
    return f"U+{ord(ch):04X} '{ch}'"


def tokenize(text: str) -> list[Token]:
    """All tokens of ``text``, ending in an ``eof`` or an ``error`` token."""
    lexer = _Lexer(text)
    try:
        lexer.run()
    except _Stop:
        pass  # the error token is already the last token
    return lexer.tokens


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.tokens: list[Token] = []
        self._line_pos = 0
        self._line = 1

    def _line_at(self, pos: int) -> int:
        # Tokens are emitted in order, so count newlines incrementally.
        if pos > self._line_pos:
            self._line += self.text.count("\n", self._line_pos, pos)
            self._line_pos = pos
        return self._line

    def emit(self, kind: str, value: str, pos: int) -> None:
        self.tokens.append((kind, value, pos, self._line_at(pos)))

    def fail(self, message: str, pos: int) -> None:
        self.emit("error", message, pos)
        raise _Stop

    def run(self) -> None:
        text, pos = self.text, 0
        while True:
            start = text.find("{{", pos)
            if start < 0:
                if pos < self.n:
                    self.emit("text", text[pos:], pos)
                self.emit("eof", "", self.n)
                return
            trim = text.startswith("-", start + 2) and text[start + 3 : start + 4] in _SPACES
            end = pos + len(text[pos:start].rstrip(SPACE)) if trim else start
            if end > pos:
                self.emit("text", text[pos:end], pos)
            inner = start + (4 if trim else 2)
            if text.startswith("/*", inner):
                pos = self._comment(start, inner)
            else:
                self.emit("left", "{{", start)
                pos = self._action(inner)

    def _right_delim(self, pos: int) -> tuple[int, bool] | None:
        """Length and trim flag of a right delimiter at ``pos``: ``}}`` or `` -}}``."""
        text = self.text
        if text.startswith("}}", pos):
            return 2, False
        if text[pos : pos + 1] in _SPACES and text.startswith("-}}", pos + 1):
            return 4, True
        return None

    def _after_right(self, pos: int, delim: tuple[int, bool]) -> int:
        pos += delim[0]
        if delim[1]:
            while pos < self.n and self.text[pos] in SPACE:
                pos += 1
        return pos

    def _comment(self, start: int, pos: int) -> int:
        end = self.text.find("*/", pos + 2)
        if end < 0:
            self.fail("unclosed comment", start)
        delim = self._right_delim(end + 2)
        if delim is None:
            self.fail("comment ends before closing delimiter", start)
            raise AssertionError  # unreachable: fail raises
        return self._after_right(end + 2, delim)

    def _at_terminator(self, pos: int) -> bool:
        return pos >= self.n or self.text[pos] in _TERMINATORS or self.text.startswith("}}", pos)

    def _action(self, pos: int) -> int:
        text, parens = self.text, 0
        while True:
            delim = self._right_delim(pos)
            if delim is not None:
                if parens:
                    self.fail("unclosed left paren", pos)
                self.emit("right", "}}", pos)
                return self._after_right(pos, delim)
            if pos >= self.n:
                self.fail("unclosed action", pos)
            ch = text[pos]
            if ch in SPACE:
                end = pos
                while end < self.n and text[end] in SPACE:
                    end += 1
                if text.startswith("-}}", end):
                    end -= 1  # the last space belongs to the " -}}" delimiter
                if end > pos:  # else the single space starts " -}}": next turn sees it
                    self.emit("space", text[pos:end], pos)
                    pos = end
                continue
            if ch == "(":
                parens += 1
            elif ch == ")":
                parens -= 1
                if parens < 0:
                    self.fail(f"unexpected right paren {unicode_name(ch)}", pos)
            pos = self._operator(ch, pos)

    def _operator(self, ch: str, pos: int) -> int:
        """Lex the token starting with ``ch`` at ``pos``; return the position after it."""
        text = self.text
        simple = _SIMPLE.get(ch)
        if simple is not None:
            self.emit(simple, ch, pos)
            return pos + 1
        if ch == ":":
            if not text.startswith(":=", pos):
                self.fail("expected :=", pos)
            self.emit("declare", ":=", pos)
            return pos + 2
        if ch in "\"'`":
            return self._quoted(ch, pos)
        if ch in "$." and not (ch == "." and "0" <= text[pos + 1 : pos + 2] <= "9"):
            return self._field_or_variable(ch, pos)
        if ch in "+-." or "0" <= ch <= "9":
            return self._number(pos)
        if _alnum(ch):
            return self._identifier(pos)
        if ch.isascii() and ch.isprintable():
            self.emit("char", ch, pos)
            return pos + 1
        self.fail(f"unrecognized character in action: {unicode_name(ch)}", pos)
        return pos

    def _quoted(self, quote: str, pos: int) -> int:
        text, end = self.text, pos + 1
        if quote == "`":
            end = text.find("`", end)
            if end < 0:
                self.fail("unterminated raw quoted string", pos)
            self.emit("raw", text[pos : end + 1], pos)
            return end + 1
        what = "quoted string" if quote == '"' else "character constant"
        while True:
            ch = text[end : end + 1]
            if ch == "\\" and text[end + 1 : end + 2] not in ("", "\n"):
                end += 2  # an escape: the next character cannot end the quote
                continue
            if ch in ("", "\n"):
                self.fail(f"unterminated {what}", pos)
            end += 1
            if ch == quote:
                break
        self.emit("string" if quote == '"' else "charconst", text[pos:end], pos)
        return end

    def _field_or_variable(self, ch: str, pos: int) -> int:
        end = pos + 1
        if self._at_terminator(end):
            self.emit("var" if ch == "$" else "dot", ch, pos)
            return end
        while end < self.n and _alnum(self.text[end]):
            end += 1
        if not self._at_terminator(end):
            self.fail(f"bad character {unicode_name(self.text[end])}", end)
        self.emit("var" if ch == "$" else "field", self.text[pos:end], pos)
        return end

    def _identifier(self, pos: int) -> int:
        end = pos
        while end < self.n and _alnum(self.text[end]):
            end += 1
        if not self._at_terminator(end):
            self.fail(f"bad character {unicode_name(self.text[end])}", end)
        word = self.text[pos:end]
        if word in KEYWORDS:
            self.emit(word, word, pos)
        elif word in ("true", "false"):
            self.emit("bool", word, pos)
        else:
            self.emit("ident", word, pos)
        return end

    def _accept(self, pos: int, chars: str) -> int:
        return pos + 1 if pos < self.n and self.text[pos] in chars else pos

    def _accept_run(self, pos: int, chars: str) -> int:
        while pos < self.n and self.text[pos] in chars:
            pos += 1
        return pos

    def _number(self, pos: int) -> int:
        # Go's scanNumber: sign, base prefix, digits, fraction, exponent, imaginary 'i'.
        end = self._accept(pos, "+-")
        digits = "0123456789_"
        if self._accept(end, "0") > end:
            end += 1
            for prefix, run in (("xX", "0123456789abcdefABCDEF_"), ("oO", "01234567_"),
                                ("bB", "01_")):
                if self._accept(end, prefix) > end:
                    end, digits = end + 1, run
                    break
        end = self._accept_run(end, digits)
        if self._accept(end, ".") > end:
            end = self._accept_run(end + 1, digits)
        exponent = "eE" if len(digits) == 11 else "pP" if len(digits) == 23 else ""
        if exponent and self._accept(end, exponent) > end:
            end = self._accept_run(self._accept(end + 1, "+-"), "0123456789_")
        end = self._accept(end, "i")
        if end < self.n and _alnum(self.text[end]):
            self.fail(f'bad number syntax: "{self.text[pos:end + 1]}"', pos)
        self.emit("number", self.text[pos:end], pos)
        return end
