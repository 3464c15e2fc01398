"""``berth inspect``, ``berth container inspect`` and ``berth image inspect``: the daemon's
JSON, re-indented as docker prints it, or rendered through ``-f``."""

from __future__ import annotations

from berth import errors
from berth.cli.command import Command, Context, StatusError, daemon_message, reraise_unreachable
from berth.cli.flags import Flag, Options
from berth.cli.output import render_one

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from berth.api.types import responses as wire
    from berth.client.networks import NetworkDocument
    from berth.client.volumes import VolumeDocument

    Document = wire.ContainerInspect | wire.ImageInspect | NetworkDocument | VolumeDocument
    Getter = Callable[[str], Document]

_FORMAT = Flag("format", "f", "str", "", "Format output using a custom template")
_SIZE = Flag("size", "s", "bool", help="Display total file sizes if the type is container")

COMMAND = Command(
    "inspect", "[OPTIONS] NAME|ID [NAME|ID...]",
    "Return low-level information on Berth objects",
    (_FORMAT, _SIZE, Flag("type", kind="str", default="",
                          help="Only inspect objects of the given type")),
    min_args=1, aliases=("inspect",))
CONTAINER = Command(
    "inspect", "[OPTIONS] CONTAINER [CONTAINER...]",
    "Display detailed information on one or more containers", (_FORMAT, _SIZE), min_args=1,
    aliases=("container inspect",), kind="container")
IMAGE = Command(
    "inspect", "[OPTIONS] IMAGE [IMAGE...]",
    "Display detailed information on one or more images", (_FORMAT,), min_args=1,
    aliases=("image inspect",), kind="image")

def run(ctx: Context, opts: Options, args: list[str]) -> int:
    kind = getattr(opts, "type", "") or _kind_of(ctx)
    if kind not in ("", "container", "image", "network", "volume"):
        raise StatusError(1, f'unknown type: "{kind}": must be one of "container", '
                             '"image", "network", "volume"')
    size = bool(getattr(opts, "size", False))
    getters: list[Getter] = []
    if kind in ("", "container"):
        getters.append(lambda name: ctx.client.containers.inspect(name, size=size))
    if kind in ("", "image"):
        getters.append(ctx.client.images.inspect)
    if kind in ("", "network"):
        getters.append(ctx.client.networks.inspect)
    if kind in ("", "volume"):
        getters.append(ctx.client.volumes.inspect)
    return inspect_all(ctx, opts.format, args, getters, typed=bool(kind))


def _kind_of(ctx: Context) -> str:
    words = ctx.path.split()
    return words[1] if len(words) == 3 else ""


def inspect_all(ctx: Context, fmt: str, names: list[str], getters: list[Getter],
                typed: bool) -> int:
    """docker's ``inspect.Inspect``: the template is parsed before anything is fetched (a
    bad one is exit 64), what was found is printed, then what was not, exit 1 if any."""
    if fmt:
        from berth.cli import template

        try:
            template.Template(fmt)
        except template.TemplateError as err:
            raise StatusError(64, f"template parsing error: {err}") from err
    missing: list[str] = []
    docs = [find(getters, name, missing, typed) for name in names]
    show(ctx, fmt, [d for d in docs if d is not None])
    for message in missing:
        ctx.err(message)
    return 1 if missing else 0


def find(getters: list[Getter], name: str, missing: list[str], typed: bool,
         ) -> Document | None:
    """The first object named ``name``; a miss is added to ``missing`` in docker's
    words."""
    for getter in getters:
        try:
            return getter(name)
        except errors.NotFound as err:
            if typed:
                missing.append(daemon_message(err))
                return None
        except errors.BerthError as err:
            reraise_unreachable(err)
            missing.append(daemon_message(err))
            return None
    missing.append(f"Error: No such object: {name}")
    return None


def show(ctx: Context, fmt: str, docs: list[Document]) -> None:
    if fmt:
        for doc in docs:
            ctx.stdout.write(render_one(fmt, doc))
        if not docs:
            ctx.stdout.write("\n")  # docker's TemplateInspector.Flush of an empty buffer
        return
    ctx.out(indent(docs))


def indent(docs: list[Document]) -> str:
    """Go's ``json.Indent`` with four spaces and no HTML escaping, as ``docker inspect``."""
    if not docs:
        return "[]"
    import json  # indenting is json's job; only this verb pays for the package

    return json.dumps(docs, indent=4, ensure_ascii=False)
