"""Parser for the Go text/template subset: a port of ``text/template/parse/parse.go``.

Errors read as Go's: ``template: :LINE: MESSAGE`` (docker names its templates "").
Not supported: ``define``, ``template``, ``block`` and complex numbers.
"""

from __future__ import annotations

from berth.cli.template_lex import KEYWORDS, TemplateError, Token, tokenize
from berth.cli.template_nodes import (
    ActionNode,
    BranchNode,
    ChainNode,
    CommandNode,
    ConstNode,
    DotNode,
    FieldNode,
    IdentifierNode,
    KeywordNode,
    LoopControlNode,
    NilNode,
    Node,
    PipeNode,
    TextNode,
    VariableNode,
)
from berth.formats.goformat import go_quote

_OPERAND_START = frozenset(
    ("bool", "charconst", "dot", "field", "ident", "number", "nil", "raw", "string", "var",
     "lparen")
)
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
            "\\": "\\", "'": "'", '"': '"'}


class _Marker(KeywordNode):
    """``{{end}}`` or ``{{else}}``: closes an item list, never kept in the tree."""

    __slots__ = ()


def parse(text: str, functions: frozenset[str]) -> list[Node]:
    """The parse tree of ``text``; a function name outside ``functions`` is an error."""
    return _Parser(text, functions).parse()


def _token_str(tok: Token) -> str:
    kind, value = tok[0], tok[1]
    if kind == "eof":
        return "EOF"
    if kind in KEYWORDS or kind == "dot":
        return f"<{value}>"
    return go_quote(value[:10]) + "..." if len(value) > 10 else go_quote(value)


def unquote(text: str) -> str:
    """``strconv.Unquote`` of a "...", `...` or '.' literal."""
    if text[0] == "`":
        return text[1:-1].replace("\r", "")
    out, i, body = [], 0, text[1:-1]
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        code = body[i + 1 : i + 2]
        size = {"x": 2, "u": 4, "U": 8}.get(code)
        if code in _ESCAPES and (code != "'" or text[0] == "'") and (code != '"' or text[0] == '"'):
            out.append(_ESCAPES[code])
            i += 2
        elif size is not None and _is_hex(body[i + 2 : i + 2 + size], size):
            out.append(chr(int(body[i + 2 : i + 2 + size], 16)))
            i += 2 + size
        elif "0" <= code <= "7" and _is_octal(body[i + 1 : i + 4]):
            out.append(chr(int(body[i + 1 : i + 4], 8)))
            i += 4
        else:
            raise ValueError("invalid syntax")
    return "".join(out)


def _is_hex(digits: str, size: int) -> bool:
    return len(digits) == size and all(c in "0123456789abcdefABCDEF" for c in digits)


def _is_octal(digits: str) -> bool:
    return len(digits) == 3 and all("0" <= c <= "7" for c in digits) and int(digits, 8) < 256


class _Parser:
    def __init__(self, text: str, functions: frozenset[str]) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.functions = functions
        self.vars = ["$"]
        self.range_depth = 0

    # --- token stream ---------------------------------------------------------------

    def error(self, message: str) -> TemplateError:
        line = self.tokens[max(self.i - 1, 0)][3]
        return TemplateError(f"template: :{line}: {message}")

    def peek(self) -> Token:
        tok = self.tokens[self.i]
        if tok[0] == "error":
            self.i += 1
            raise self.error(tok[1])
        return tok

    def next(self) -> Token:
        tok = self.peek()
        self.i += 1
        return tok

    def next_non_space(self) -> Token:
        tok = self.next()
        while tok[0] == "space":
            tok = self.next()
        return tok

    def peek_non_space(self) -> Token:
        tok = self.next_non_space()
        self.i -= 1
        return tok

    def expect(self, kind: str, context: str) -> Token:
        tok = self.next_non_space()
        if tok[0] != kind:
            raise self.unexpected(tok, context)
        return tok

    def unexpected(self, tok: Token, context: str) -> TemplateError:
        return self.error(f"unexpected {_token_str(tok)} in {context}")

    # --- structure ------------------------------------------------------------------

    def parse(self) -> list[Node]:
        root: list[Node] = []
        while self.peek()[0] != "eof":
            node = self.text_or_action()
            if isinstance(node, _Marker):
                raise self.error(f"unexpected {node}")
            root.append(node)
        return root

    def text_or_action(self) -> Node:
        tok = self.next_non_space()
        if tok[0] == "text":
            return TextNode(tok[2], tok[1])
        if tok[0] == "left":
            return self.action()
        raise self.unexpected(tok, "input")

    def item_list(self) -> tuple[list[Node], _Marker]:
        body: list[Node] = []
        while self.peek_non_space()[0] != "eof":
            node = self.text_or_action()
            if isinstance(node, _Marker):
                return body, node
            body.append(node)
        raise self.error("unexpected EOF")

    def action(self) -> Node:
        tok = self.next_non_space()
        kind = tok[0]
        if kind in ("block", "define", "template"):
            raise self.error(f"{{{{{kind}}}}} is not supported")
        if kind in ("break", "continue"):
            if self.range_depth == 0:
                raise self.error(f"{{{{{kind}}}}} outside {{{{range}}}}")
            self.expect("right", kind)
            return LoopControlNode(tok[2], kind)
        if kind == "else":
            peek = self.peek_non_space()
            if peek[0] in ("if", "with"):  # "else if": the if's own {{end}} closes both
                return _Marker(peek[2], "else")
            return _Marker(self.expect("right", "else")[2], "else")
        if kind == "end":
            return _Marker(self.expect("right", "end")[2], "end")
        if kind in ("if", "range", "with"):
            return self.control(kind)
        self.i -= 1
        return ActionNode(self.peek()[2], self.pipeline("command", "right"))

    def control(self, keyword: str) -> BranchNode:
        scope = len(self.vars)
        pipe = self.pipeline(keyword, "right")
        self.range_depth += keyword == "range"
        body, marker = self.item_list()
        self.range_depth -= keyword == "range"
        else_body: list[Node] = []
        if marker.keyword == "else":
            if keyword != "range" and self.peek()[0] == keyword:
                self.next()
                else_body = [self.control(keyword)]
            else:
                else_body, marker = self.item_list()
                if marker.keyword != "end":
                    raise self.error(f"expected end; found {marker}")
        del self.vars[scope:]
        return BranchNode(pipe.pos, keyword, pipe, body, else_body)

    # --- pipelines ------------------------------------------------------------------

    def pipeline(self, context: str, end: str) -> PipeNode:
        pipe = PipeNode(self.peek_non_space()[2])
        self.declarations(pipe, context)
        while True:
            tok = self.next_non_space()
            if tok[0] == end:
                break
            if tok[0] not in _OPERAND_START:
                raise self.unexpected(tok, context)
            self.i -= 1
            pipe.cmds.append(self.command())
        if not pipe.cmds:
            raise self.error(f"missing value for {context}")
        for stage, cmd in enumerate(pipe.cmds[1:], start=2):
            if isinstance(cmd.args[0], ConstNode | DotNode | NilNode):
                raise self.error(f"non executable command in pipeline stage {stage}")
        return pipe

    def declarations(self, pipe: PipeNode, context: str) -> None:
        while self.peek_non_space()[0] == "var":
            start = self.i
            var = self.next()
            nxt = self.peek_non_space()
            if nxt[0] in ("assign", "declare"):
                self.next_non_space()
                pipe.is_assign = nxt[0] == "assign"
                pipe.decl.append(var[1])
                self.vars.append(var[1])
                return
            if nxt[0] == "char" and nxt[1] == ",":
                self.next_non_space()
                pipe.decl.append(var[1])
                self.vars.append(var[1])
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space()[0] in ("var", "right", "rparen"):
                        continue
                    raise self.error("range can only initialize variables")
                raise self.error(f"too many declarations in {context}")
            self.i = start  # "$x" is an operand, not a declaration
            return

    def command(self) -> CommandNode:
        cmd = CommandNode(self.peek_non_space()[2], [])
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok[0] == "space":
                continue
            if tok[0] in ("right", "rparen"):
                self.i -= 1
            elif tok[0] != "pipe":
                raise self.unexpected(tok, "operand")
            break
        if not cmd.args:
            raise self.error("empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None or self.peek()[0] != "field":
            return node
        pos = self.peek()[2]
        fields: list[str] = []
        while self.peek()[0] == "field":
            fields.append(self.next()[1][1:])
        if isinstance(node, FieldNode):
            return FieldNode(pos, node.idents + tuple(fields))
        if isinstance(node, VariableNode):
            return VariableNode(pos, node.idents + tuple(fields))
        if isinstance(node, ConstNode | NilNode | DotNode):
            raise self.error(f"unexpected . after term {go_quote(str(node))}")
        return ChainNode(pos, node, tuple(fields))

    def term(self) -> Node | None:
        tok = self.next_non_space()
        kind, value, pos = tok[0], tok[1], tok[2]
        if kind == "ident":
            if value not in self.functions:
                raise self.error(f"function {go_quote(value)} not defined")
            return IdentifierNode(pos, value)
        if kind == "dot":
            return DotNode(pos)
        if kind == "nil":
            return NilNode(pos)
        if kind == "var":
            if value not in self.vars:
                raise self.error(f"undefined variable {go_quote(value)}")
            return VariableNode(pos, (value,))
        if kind == "field":
            return FieldNode(pos, (value[1:],))
        if kind == "bool":
            return ConstNode(pos, value, value == "true")
        if kind in ("number", "charconst"):
            return self.number(tok)
        if kind == "lparen":
            return self.pipeline("parenthesized pipeline", "rparen")
        if kind in ("string", "raw"):
            try:
                return ConstNode(pos, value, unquote(value))
            except ValueError:
                raise self.error("invalid syntax") from None
        self.i -= 1
        return None

    def number(self, tok: Token) -> ConstNode:
        """A NumberNode valued as Go's idealConstant: float if spelled like one."""
        text, pos = tok[1], tok[2]
        if tok[0] == "charconst":
            chars = unquote(text) if len(text) > 2 else ""
            if len(chars) != 1:
                raise self.error(f"malformed character constant: {text}")
            return ConstNode(pos, text, ord(chars), ord(chars))
        body = text.lstrip("+-")
        if body.endswith("i") and not body[:2].lower() == "0x":
            raise self.error(f"complex numbers are not supported: {text}")
        hexadecimal = body[:2] in ("0x", "0X")
        as_int: int | None = None
        as_float: float | None = None
        try:
            legacy_octal = len(body) > 1 and body[0] == "0" and body[1] in "01234567_"
            as_int = int(text.replace("0", "0o", 1) if legacy_octal else text, 0)
        except ValueError:
            pass
        try:
            as_float = float.fromhex(text) if hexadecimal else float(text)
        except ValueError:
            pass
        if as_int is None and as_float is None:
            raise self.error(f"illegal number syntax: {go_quote(text)}")
        if as_int is None and as_float is not None and as_float.is_integer():
            as_int = int(as_float)
        hex_int = hexadecimal and "p" not in body.lower()
        looks_float = not hex_int and any(c in body for c in ".eEpP")
        value: object = as_float if looks_float or as_int is None else as_int
        return ConstNode(pos, text, value, as_int)
