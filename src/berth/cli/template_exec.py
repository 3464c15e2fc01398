"""Executes a parsed --format template: a port of Go's ``text/template/exec.go``.

Data is what the CLI decoded from the API (dicts, lists, str, int, float, bool, None)
plus Python callables, which stand in for docker's Go methods: ``{{.Label "com.x"}}``
calls ``data["Label"]("com.x")``. Objects that are not JSON values expose their public
attributes as fields, and their methods as methods.

Errors read as Go's, located at the node being evaluated::

    template: :1:8: executing "" at <.State.Pid>: can't evaluate field Pid in type string
"""

from __future__ import annotations

from berth.cli.template_fmt import MISSING, fmt_value, go_type, sort_key
from berth.cli.template_funcs import CallError, Function, is_true
from berth.cli.template_lex import TemplateError
from berth.cli.template_nodes import (
    ActionNode,
    BranchNode,
    ChainNode,
    CommandNode,
    ConstNode,
    DotNode,
    FieldNode,
    IdentifierNode,
    LoopControlNode,
    NilNode,
    Node,
    PipeNode,
    TextNode,
    VariableNode,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

_NO_FINAL = object()  # no value piped in from a previous command
_PLAIN = (str, int, float, bool, list, tuple, dict, type(None))


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def execute(
    source: str, root: list[Node], data: object, functions: dict[str, Function], out: list[str]
) -> None:
    """Run ``root`` against ``data``, appending output to ``out`` (kept on error, as Go)."""
    _State(source, data, functions, out).walk_list(data, root)


class _State:
    def __init__(
        self, source: str, data: object, functions: dict[str, Function], out: list[str]
    ) -> None:
        self.source = source
        self.functions = functions
        self.out = out
        self.vars: list[list[object]] = [["$", data]]
        self.node: Node | None = None

    def error(self, message: str) -> NoReturn:
        if self.node is None:
            raise TemplateError(f"template: : {message}")
        before = self.source[: self.node.pos]
        newline = before.rfind("\n")
        column = len(before[newline + 1 :].encode())
        location = f":{before.count(chr(10)) + 1}:{column}"
        raise TemplateError(f'template: {location}: executing "" at <{self.node}>: {message}')

    # --- statements -----------------------------------------------------------------

    def walk_list(self, dot: object, nodes: list[Node]) -> None:
        for node in nodes:
            if type(node) is TextNode:
                self.out.append(node.text)
            elif type(node) is ActionNode:
                self.node = node
                value = self.eval_pipeline(dot, node.pipe)
                if not node.pipe.decl:
                    self.out.append(fmt_value(value))
            elif isinstance(node, BranchNode):
                self.node = node
                if node.keyword == "range":
                    self.walk_range(dot, node)
                else:
                    self.walk_if_or_with(dot, node)
            elif isinstance(node, LoopControlNode):
                raise _Break if node.keyword == "break" else _Continue

    def walk_if_or_with(self, dot: object, node: BranchNode) -> None:
        scope = len(self.vars)
        value = self.eval_pipeline(dot, node.pipe)
        if is_true(value):
            self.walk_list(value if node.keyword == "with" else dot, node.body)
        elif node.else_body:
            self.walk_list(dot, node.else_body)
        del self.vars[scope:]

    def walk_range(self, dot: object, node: BranchNode) -> None:
        scope = len(self.vars)
        value = self.eval_pipeline(dot, node.pipe)
        items: list[tuple[object, object]]
        if isinstance(value, dict):
            items = [(k, value[k]) for k in sorted(value, key=sort_key)]  # Go sorts map keys
        elif isinstance(value, list | tuple):
            items = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            items = [(i, i) for i in range(value)]
        elif value is None or value is MISSING:
            items = []
        else:
            self.node = node
            self.error(f"range can't iterate over {fmt_value(value)}")
        decl = node.pipe.decl
        inner = len(self.vars)
        for key, elem in items:
            if decl and node.pipe.is_assign:
                self.set_var(decl[0], key if len(decl) > 1 else elem)
                if len(decl) > 1:
                    self.set_var(decl[1], elem)
            elif decl:
                self.vars[inner - 1][1] = elem
                if len(decl) > 1:
                    self.vars[inner - 2][1] = key
            try:
                self.walk_list(elem, node.body)
            except _Continue:
                pass
            except _Break:
                break
            finally:
                del self.vars[inner:]
        if not items and node.else_body:
            self.walk_list(dot, node.else_body)
        del self.vars[scope:]

    # --- expressions ----------------------------------------------------------------

    def eval_pipeline(self, dot: object, pipe: PipeNode) -> object:
        value: object = _NO_FINAL
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
        for name in pipe.decl:
            if pipe.is_assign:
                self.set_var(name, value)
            else:
                self.vars.append([name, value])
        return value

    def set_var(self, name: str, value: object) -> None:
        for var in reversed(self.vars):
            if var[0] == name:
                var[1] = value
                return
        self.error(f"undefined variable: {name}")

    def var_value(self, name: str) -> object:
        for var in reversed(self.vars):
            if var[0] == name:
                return var[1]
        self.error(f"undefined variable: {name}")

    def eval_command(self, dot: object, cmd: CommandNode, final: object) -> object:
        first = cmd.args[0]
        if isinstance(first, FieldNode):
            self.node = first
            return self.eval_fields(dot, dot, first.idents, cmd.args, final)
        if isinstance(first, VariableNode):
            return self.eval_variable(dot, first, cmd.args, final)
        if isinstance(first, ChainNode):
            return self.eval_chain(dot, first, cmd.args, final)
        if isinstance(first, IdentifierNode):
            return self.eval_function(dot, first, cmd, cmd.args[1:], final)
        self.node = first
        if len(cmd.args) > 1 or final is not _NO_FINAL:
            self.error(f"can't give argument to non-function {first}")
        if isinstance(first, NilNode):
            self.error("nil is not a command")
        return self.eval_arg(dot, first)

    def eval_arg(self, dot: object, node: Node) -> object:
        """An operand used as an argument (Go's evalEmptyInterface)."""
        self.node = node
        if isinstance(node, DotNode):
            return dot
        if isinstance(node, ConstNode):
            return node.value
        if isinstance(node, NilNode):
            return None
        if isinstance(node, FieldNode):
            return self.eval_fields(dot, dot, node.idents, None, _NO_FINAL)
        if isinstance(node, VariableNode):
            return self.eval_variable(dot, node, None, _NO_FINAL)
        if isinstance(node, ChainNode):
            return self.eval_chain(dot, node, None, _NO_FINAL)
        if isinstance(node, IdentifierNode):
            return self.eval_function(dot, node, node, [], _NO_FINAL)
        if isinstance(node, PipeNode):
            return self.eval_pipeline(dot, node)
        self.error(f"can't handle {node} for arg")

    def eval_variable(
        self, dot: object, node: VariableNode, args: list[Node] | None, final: object
    ) -> object:
        self.node = node
        value = self.var_value(node.idents[0])
        if len(node.idents) == 1:
            if (args is not None and len(args) > 1) or final is not _NO_FINAL:
                self.error(f"can't give argument to non-function {node}")
            return value
        return self.eval_fields(dot, value, node.idents[1:], args, final)

    def eval_chain(
        self, dot: object, node: ChainNode, args: list[Node] | None, final: object
    ) -> object:
        if isinstance(node.node, NilNode):
            self.error(f"indirection through explicit nil in {node}")
        receiver = self.eval_arg(dot, node.node)
        self.node = node
        return self.eval_fields(dot, receiver, node.fields, args, final)

    def eval_fields(
        self,
        dot: object,
        receiver: object,
        idents: tuple[str, ...],
        args: list[Node] | None,
        final: object,
    ) -> object:
        """``receiver.A.B...``; only the last field takes ``args[1:]`` and ``final``."""
        node = self.node
        for ident in idents[:-1]:
            receiver = self.eval_field(dot, ident, None, _NO_FINAL, receiver)
        self.node = node
        return self.eval_field(dot, idents[-1], args, final, receiver)

    def eval_field(
        self, dot: object, name: str, args: list[Node] | None, final: object, receiver: object
    ) -> object:
        if receiver is MISSING:
            return MISSING
        has_args = (args is not None and len(args) > 1) or final is not _NO_FINAL
        if isinstance(receiver, dict):
            value = receiver.get(name, MISSING)
            context: str = getattr(receiver, "context", "")
            if value is MISSING and context:
                self.error(f"can't evaluate field {name} in type {context}")
            if callable(value):
                return self.call_method(dot, name, value, args, final)
            if has_args:
                self.error(f"{name} is not a method but has arguments")
            return value
        if receiver is None:
            self.error(f"nil pointer evaluating interface {{}}.{name}")
        if not isinstance(receiver, _PLAIN) and not name.startswith("_"):
            value = getattr(receiver, name, MISSING)
            if callable(value):
                return self.call_method(dot, name, value, args, final)
            if value is not MISSING:
                if has_args:
                    self.error(f"{name} has arguments but cannot be invoked as function")
                return value
        self.error(f"can't evaluate field {name} in type {go_type(receiver)}")

    def call_method(
        self, dot: object, name: str, method: object, args: list[Node] | None, final: object
    ) -> object:
        node = self.node
        argv = [self.eval_arg(dot, arg) for arg in (args or [])[1:]]
        if final is not _NO_FINAL:
            argv.append(final)
        self.node = node
        try:
            return method(*(None if a is MISSING else a for a in argv))  # type: ignore[operator]
        except (TypeError, ValueError, LookupError) as err:
            self.error(f"error calling {name}: {err}")

    def eval_function(
        self, dot: object, ident: IdentifierNode, cmd: Node, args: list[Node], final: object
    ) -> object:
        name = ident.name
        function = self.functions[name]
        if name in ("and", "or"):
            return self.eval_and_or(dot, ident, args, final)
        self.node = ident
        given = len(args) + (final is not _NO_FINAL)
        want = len(function.kinds)
        if function.variadic is not None and given < want:
            self.error(f"wrong number of args for {name}: want at least {want} got {len(args)}")
        if function.variadic is None and given != want:
            self.error(f"wrong number of args for {name}: want {want} got {given}")
        kinds = function.kinds + (function.variadic or "",) * (given - want)
        argv = [self.typed_arg(dot, kind, arg) for kind, arg in zip(kinds, args, strict=False)]
        if final is not _NO_FINAL:
            argv.append(self.convert(kinds[len(args)], final))
        self.node = cmd
        try:
            return function.fn(*argv)
        except CallError as err:
            self.error(f"error calling {name}: {err}")

    def eval_and_or(
        self, dot: object, ident: IdentifierNode, args: list[Node], final: object
    ) -> object:
        """Go 1.18+: stop at the first operand that decides the result and return it."""
        self.node = ident
        if not args and final is _NO_FINAL:
            self.error(f"wrong number of args for {ident.name}: want at least 1 got 0")
        value: object = MISSING
        for arg in args:
            value = self.eval_arg(dot, arg)
            if is_true(value) == (ident.name == "or"):
                return value
        return final if final is not _NO_FINAL else value

    def typed_arg(self, dot: object, kind: str, node: Node) -> object:
        self.node = node
        if kind == "str" and isinstance(node, ConstNode | NilNode):
            if not isinstance(node, ConstNode) or not isinstance(node.value, str):
                self.error(f"expected string; found {node}")
        if kind == "int" and isinstance(node, ConstNode | NilNode):
            if not isinstance(node, ConstNode) or node.int_value is None or node.value is True:
                self.error(f"expected integer; found {node}")
            return node.int_value
        return self.convert(kind, self.eval_arg(dot, node))

    def convert(self, kind: str, value: object) -> object:
        """Check ``value`` against a parameter kind (see template_funcs)."""
        if kind == "value":
            return value
        if kind == "any":
            return None if value is MISSING else value
        if value is MISSING:
            self.error(f"invalid value; expected {_GO_KIND[kind]}")
        if kind == "str" and isinstance(value, str):
            return value
        if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind == "strs" and value is None:
            return []
        if kind == "strs" and isinstance(value, list | tuple):
            if all(isinstance(v, str) for v in value):
                return value
        self.error(f"wrong type for value; expected {_GO_KIND[kind]}; got {go_type(value)}")


_GO_KIND = {"str": "string", "int": "int", "strs": "[]string"}
