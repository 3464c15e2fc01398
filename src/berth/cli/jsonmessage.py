"""Progress streams of pull and push, printed as docker's ``jsonmessage`` does without a
terminal: one line per status change (``id: status``), messages that carry a progress bar
skipped, an error message ending the command."""

from __future__ import annotations

from berth.cli.command import StatusError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from berth.cli.command import Context
    from berth.client.models import Progress


def display(ctx: Context, stream: Iterable[Progress], quiet: bool = False) -> None:
    for message in stream:
        if message.error:
            raise StatusError(1, message.error)
        if quiet or message.progress or not (message.status or message.stream):
            continue  # a bar (a terminal's), or an aux message
        text = message.stream or message.status
        if message.id and not message.stream:
            text = f"{message.id}: {text}"
        ctx.stdout.write(text if text.endswith("\n") else text + "\n")


def split_tag(image: str) -> tuple[str, str]:
    """``name[:tag|@digest]`` → (name, tag or digest); a registry port is not a tag."""
    if "@" in image:
        name, _, digest = image.partition("@")
        return name, digest
    name, sep, tag = image.rpartition(":")
    if sep and "/" not in tag:
        return name, tag
    return image, ""


def canonical(name: str) -> str:
    """``busybox`` → ``docker.io/library/busybox``, as docker prints what it pulled."""
    first, sep, _ = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return name
    return f"docker.io/{name}" if sep else f"docker.io/library/{name}"
