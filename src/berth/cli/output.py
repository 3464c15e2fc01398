"""Output shared by the listing verbs: docker's units, ids, and ``--format`` handling.

The humanizers follow docker/go-units (``HumanDuration``, ``HumanSizeWithPrecision``) and
docker/cli's formatter (``Ellipsis``, ``TruncateID``) so columns read exactly as docker's.
Templates are rendered by ``berth.cli.template``; this module only picks the template.
"""

from __future__ import annotations

import time

from berth.cli.command import StatusError
from berth.formats.units import human_duration

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Any

    from berth.cli.command import Context
    from berth.client.models import Progress

_DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size(size: float, precision: int = 3) -> str:
    """go-units ``HumanSizeWithPrecision``: decimal units, ``%.*g`` ("1.98MB")."""
    i = 0
    while size >= 1000 and i < len(_DECIMAL) - 1:
        size /= 1000
        i += 1
    return f"{size:.{precision}g}{_DECIMAL[i]}"


def since(timestamp: int, now: float | None = None) -> str:
    """"2 minutes ago" for a unix timestamp."""
    now = time.time() if now is None else now
    return human_duration(now - timestamp) + " ago"


def go_time(timestamp: int) -> str:
    """Go's ``time.Unix(ts, 0).String()`` in local time: "2024-01-02 15:04:05 +0000 UTC"."""
    when = time.localtime(timestamp)  # not datetime: one more module at every ``ps``
    return time.strftime("%Y-%m-%d %H:%M:%S %z ", when) + (when.tm_zone or "")


def truncate_id(ident: str) -> str:
    """docker's ``stringid.TruncateID``: drop the algorithm, keep 12 hex digits."""
    _, _, hex_part = ident.rpartition(":")
    return hex_part[:12]


def ellipsis(text: str, width: int) -> str:
    """docker's ``formatter.Ellipsis`` for single-width text: cut to ``width`` with "…"."""
    if len(text) <= width:
        return text
    return text[: width - 1] + "…"


def pick_format(fmt: str, quiet: bool, default: str, quiet_format: str) -> str:
    """The template a listing renders: docker's ``table``/``json``/custom choices."""
    if quiet and not fmt:
        return quiet_format
    if not fmt or fmt == "table":
        return default
    if fmt == "json":
        return "{{json .}}"
    return fmt


def render(fmt: str, rows: Sequence[Mapping[str, Any]], headers: Mapping[str, object],
           context: str = "") -> str:
    """Render rows with a (possibly ``table``) template; a bad template is exit 1 with
    docker's "template parsing error" message. ``context``: the Go type of docker's rows,
    when a field they lack must fail as it does in docker."""
    from berth.cli import template, template_fmt

    marshalled: list[Any] = [template_fmt.MarshalledRow(r, context) for r in rows]
    try:
        if template.is_table(fmt):
            # headers may hold callables too, as docker's HeaderContext has methods
            text = str(template.render_table(fmt, marshalled,
                                             dict(headers)))  # type: ignore[arg-type]
        else:
            text = str(template.render_lines(fmt, marshalled))
    except template.TemplateError as err:
        raise StatusError(1, f"template parsing error: {err}") from err
    return text if not text or text.endswith("\n") else text + "\n"


def render_one(fmt: str, data: Any) -> str:
    """One document through a template (``inspect -f``), newline-terminated."""
    from berth.cli import template

    try:
        text = str(template.Template(fmt).render(data))
    except template.TemplateError as err:
        raise StatusError(1, f"template parsing error: {err}") from err
    return text + "\n"


def show_progress(ctx: Context, stream: Iterable[Progress], exit_code: int = 1) -> None:
    """Print a JSON-lines progress stream as docker's ``DisplayJSONMessagesStream`` does
    without a terminal: one line per message; an error message ends it."""
    for progress in stream:
        if progress.error:
            raise StatusError(exit_code, progress.error)
        text = progress.stream or " ".join(x for x in (progress.status, progress.progress) if x)
        if progress.id and not progress.stream:
            text = f"{progress.id}: {text}"
        if text:
            ctx.stdout.write(text if text.endswith("\n") else text + "\n")
