"""Where ``save`` and ``export`` put a tar: the ``-o`` file, written beside it and renamed
into place once complete (docker's ``CopyToFile``), or stdout unless that is a terminal."""

from __future__ import annotations

import os

from berth.cli.command import StatusError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from berth.cli.command import Context

REFUSE = "cowardly refusing to save to a terminal. Use the -o flag or redirect"


def check_destination(ctx: Context, output: str, verb: str) -> None:
    """Fail before asking the daemon: a terminal stdout, or a missing directory."""
    if not output:
        if ctx.stdout.isatty():
            raise StatusError(1, REFUSE)
        return
    directory = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(directory):
        raise StatusError(1, f"failed to {verb}: invalid output path: directory "
                             f'"{directory}" does not exist')


def write_chunks(ctx: Context, chunks: Iterable[bytes], output: str) -> None:
    if not output:
        out = ctx.bout
        for chunk in chunks:
            out.write(chunk)
        out.flush()
        return
    temp = os.path.join(os.path.dirname(os.path.abspath(output)),
                        f".berth_temp_{os.getpid()}")
    try:
        with open(temp, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
        os.replace(temp, output)
    except OSError as err:
        raise StatusError(1, f"failed to save to {output}: {err.strerror or err}") from err
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
