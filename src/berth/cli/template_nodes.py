"""Parse tree of a --format template, as Go's ``text/template/parse`` shapes it.

Each node keeps ``pos``, the offset of its first character, and prints itself the way
Go's ``Node.String`` does: execution errors quote a node as ``at <.State.Pid>``.
"""

from __future__ import annotations


class Node:
    __slots__ = ("pos",)

    def __init__(self, pos: int) -> None:
        self.pos = pos


class TextNode(Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, text: str) -> None:
        super().__init__(pos)
        self.text = text

    def __str__(self) -> str:
        return self.text


class DotNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "."


class NilNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "nil"


class ConstNode(Node):
    """A bool, number or string literal; ``text`` is how the template spelled it."""

    __slots__ = ("int_value", "text", "value")

    def __init__(
        self, pos: int, text: str, value: object, int_value: int | None = None
    ) -> None:
        super().__init__(pos)
        self.text = text
        self.value = value
        self.int_value = int_value  # a number usable where Go wants an int

    def __str__(self) -> str:
        return self.text


class FieldNode(Node):
    """``.A.B``: ``idents`` is ``("A", "B")``."""

    __slots__ = ("idents",)

    def __init__(self, pos: int, idents: tuple[str, ...]) -> None:
        super().__init__(pos)
        self.idents = idents

    def __str__(self) -> str:
        return "".join("." + ident for ident in self.idents)


class VariableNode(Node):
    """``$x.A``: ``idents`` is ``("$x", "A")``."""

    __slots__ = ("idents",)

    def __init__(self, pos: int, idents: tuple[str, ...]) -> None:
        super().__init__(pos)
        self.idents = idents

    def __str__(self) -> str:
        return ".".join(self.idents)


class IdentifierNode(Node):
    """A function name."""

    __slots__ = ("name",)

    def __init__(self, pos: int, name: str) -> None:
        super().__init__(pos)
        self.name = name

    def __str__(self) -> str:
        return self.name


class ChainNode(Node):
    """Fields after a term that is not a field or variable: ``(index .L 0).Name``."""

    __slots__ = ("fields", "node")

    def __init__(self, pos: int, node: Node, fields: tuple[str, ...]) -> None:
        super().__init__(pos)
        self.node = node
        self.fields = fields

    def __str__(self) -> str:
        inner = f"({self.node})" if isinstance(self.node, PipeNode) else str(self.node)
        return inner + "".join("." + field for field in self.fields)


class CommandNode(Node):
    __slots__ = ("args",)

    def __init__(self, pos: int, args: list[Node]) -> None:
        super().__init__(pos)
        self.args = args

    def __str__(self) -> str:
        return " ".join(f"({a})" if isinstance(a, PipeNode) else str(a) for a in self.args)


class PipeNode(Node):
    """``$x := cmd | cmd``; ``is_assign`` is true for ``=`` rather than ``:=``."""

    __slots__ = ("cmds", "decl", "is_assign")

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.decl: list[str] = []
        self.is_assign = False
        self.cmds: list[CommandNode] = []

    def __str__(self) -> str:
        head = ", ".join(self.decl) + (" = " if self.is_assign else " := ") if self.decl else ""
        return head + " | ".join(str(c) for c in self.cmds)


class ActionNode(Node):
    __slots__ = ("pipe",)

    def __init__(self, pos: int, pipe: PipeNode) -> None:
        super().__init__(pos)
        self.pipe = pipe

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


class BranchNode(Node):
    """``if``, ``with`` or ``range``: a pipeline, a body and an optional else body."""

    __slots__ = ("body", "else_body", "keyword", "pipe")

    def __init__(
        self, pos: int, keyword: str, pipe: PipeNode, body: list[Node], else_body: list[Node]
    ) -> None:
        super().__init__(pos)
        self.keyword = keyword
        self.pipe = pipe
        self.body = body
        self.else_body = else_body

    def __str__(self) -> str:
        text = "{{" + f"{self.keyword} {self.pipe}" + "}}" + "".join(map(str, self.body))
        if self.else_body:
            text += "{{else}}" + "".join(map(str, self.else_body))
        return text + "{{end}}"


class KeywordNode(Node):
    """An action that is a bare keyword: ``{{break}}``, ``{{end}}``..."""

    __slots__ = ("keyword",)

    def __init__(self, pos: int, keyword: str) -> None:
        super().__init__(pos)
        self.keyword = keyword

    def __str__(self) -> str:
        return "{{" + self.keyword + "}}"


class LoopControlNode(KeywordNode):
    """``{{break}}`` or ``{{continue}}``."""

    __slots__ = ()
