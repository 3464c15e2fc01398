"""``berth import file|-|URL [REPOSITORY[:TAG]]``: a tarball becomes a one-layer image.

The tarball is the request body, streamed a block at a time (a file with its size, stdin
chunked), never read into memory.
"""

from __future__ import annotations

import os
import sys

from berth.cli.command import Command, StatusError
from berth.cli.flags import Flag
from berth.cli.output import show_progress
from berth.client.models import ImportOptions

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.cli.command import Context
    from berth.cli.flags import Options

COMMAND = Command(
    "import", "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
    "Import the contents from a tarball to create a filesystem image",
    (Flag("change", "c", "list", help="Apply Dockerfile instruction to the created image"),
     Flag("message", "m", "str", "", "Set commit message for imported image"),
     Flag("platform", kind="str", default="", help="Set platform if server is multi-platform "
          "capable")),
    min_args=1, max_args=2, aliases=("image import", "import"))


def split_reference(ref: str) -> tuple[str, str]:
    """``repo[:tag]`` -> (repo, tag); a registry port ("host:5000/x") is not a tag."""
    repo, sep, tag = ref.rpartition(":")
    if sep and "/" not in tag:
        return repo, tag
    return ref, ""


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    source = args[0]
    repo, tag = split_reference(args[1]) if len(args) > 1 else ("", "")
    url = source.startswith(("http://", "https://"))
    import_opts = ImportOptions(source=source if url else "-", repo=repo, tag=tag,
                                changes=tuple(opts.change), message=opts.message,
                                platform=opts.platform)
    if url:
        show_progress(ctx, ctx.client.images.import_tar(None, import_opts))
        return 0
    if source == "-":
        stream = ctx.client.images.import_tar(sys.stdin.buffer, import_opts)
        show_progress(ctx, stream)
        return 0
    try:
        fh = open(source, "rb")
    except OSError as err:
        raise StatusError(1, f"open {source}: {(err.strerror or str(err)).lower()}") from err
    with fh:
        size = os.fstat(fh.fileno()).st_size
        show_progress(ctx, ctx.client.images.import_tar(fh, import_opts, size))
    return 0
