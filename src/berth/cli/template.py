"""docker's ``--format``: a Go text/template subset that prints exactly what docker prints.

Layers, each a module of its own::

    template.py         Template, render_table, render_lines: docker's formatter.Context
    template_parse.py   text -> tree (template_lex.py tokens, template_nodes.py nodes)
    template_exec.py    tree + data -> text
    template_funcs.py   builtins (and or not len index slice print printf println eq ne
                        lt le gt ge html urlquery call) and docker's json split join
                        title lower upper pad truncate
    template_fmt.py     Go's %v and encoding/json; template_printf.py: Sprintf
    tabwriter.py        docker's column alignment for ``table`` formats

Supported syntax: ``{{.A.B}}``, ``{{.}}``, ``$``, ``$x := ...``, ``$x = ...``, pipelines
``a | b``, parenthesised pipelines with fields ``(index .L 0).Name``, string, raw-string,
char, number, bool and nil literals, ``{{- -}}`` trimming, ``{{/* */}}`` comments,
``if``/``else if``/``else``, ``with``/``else with``, ``range`` over lists, maps (sorted
keys) and ints with ``$i, $e :=``, ``{{break}}``, ``{{continue}}``.

Nothing heavy is imported here (no re, json or typing): the CLI imports this on start-up.
"""

from __future__ import annotations

from berth.cli.template_exec import execute
from berth.cli.template_funcs import FUNCTION_NAMES, FUNCTIONS, HEADER_FUNCTIONS, Function
from berth.cli.template_lex import TemplateError
from berth.cli.template_parse import parse

__all__ = ["Template", "TemplateError", "is_table", "render_lines", "render_table"]

TABLE = "table"


class Template:
    """A parsed template; ``render`` runs it against one object."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._root = parse(text, FUNCTION_NAMES)

    def render(self, data: object) -> str:
        out: list[str] = []
        execute(self._text, self._root, data, FUNCTIONS, out)
        return "".join(out)

    def render_partial(self, data: object, functions: dict[str, Function]) -> str:
        """Run with other functions and return what was written even if it fails.

        docker renders a table's header this way: with HeaderFunctions and ignoring the
        error, so a failing header keeps the text before the failure.
        """
        out: list[str] = []
        try:
            execute(self._text, self._root, data, functions, out)
        except TemplateError:
            pass  # docker ignores the header's error; the partial output stands
        return "".join(out)


def is_table(fmt: str) -> bool:
    """docker treats any format starting with "table" as a table."""
    return fmt.startswith(TABLE)


def final_format(fmt: str) -> str:
    """The template docker's formatter.Context really parses for ``fmt``.

    It drops the "table" prefix, expands "json" to ``{{json .}}``, trims spaces (only
    spaces) and turns the two-character sequences ``\\t`` and ``\\n`` into a tab and a
    newline, so ``--format 'table {{.ID}}\\t{{.Names}}'`` works from a shell.
    """
    if is_table(fmt):
        fmt = fmt[len(TABLE) :]
    elif fmt == "json":
        fmt = "{{json .}}"
    return fmt.strip(" ").replace("\\t", "\t").replace("\\n", "\n")


def render_table(fmt: str, rows: list[dict[str, object]], headers: dict[str, str]) -> str:
    """A ``table`` format's output: header row, one line per row, columns aligned.

    ``headers`` maps each field name to its column title, e.g. ``{"ID": "CONTAINER ID"}``.
    A row that fails to render raises TemplateError and nothing is printed, as in docker.
    """
    template = Template(final_format(fmt))
    body = "".join(template.render(row) + "\n" for row in rows)
    header = template.render_partial(headers, HEADER_FUNCTIONS)
    from berth.cli.tabwriter import align  # only tables need it; keep start-up short

    return align(header + "\n" + body)


def render_lines(fmt: str, rows: list[object]) -> str:
    """A non-table format's output: each row rendered and ended by a newline.

    This is docker's formatter (``ps``, ``images``, ...): ``\\t``/``\\n`` are expanded and
    "json" means ``{{json .}}``. ``inspect -f`` does neither; use Template for it.
    """
    template = Template(final_format(fmt))
    return "".join(template.render(row) + "\n" for row in rows)
