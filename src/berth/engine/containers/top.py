"""``docker top``: the host's ``ps``, narrowed to a container's processes.

As moby does, ps runs on the host (so its columns show host pids and users) with the
caller's arguments plus ``-q <pids>``; a ps that refuses ``-q`` together with them (``f``,
for one) is run again without it, and the rows are filtered by their PID column. This is
the one module that runs ps, with argv lists only.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from berth.errors import BerthError, InvalidArgument

PS = "ps"
DEFAULT_ARGS = "-ef"

# A fixed environment: ps cuts its lines to $COLUMNS, and one inherited from the shell
# that started the daemon must not truncate the command column (with no tty and no
# COLUMNS, ps does not cut).
_PS_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

# moby's validatePSArgs: "-o pid=PID" may rename the PID column, nothing else may.
_RENAMED_PID = re.compile(r"\s+([^\s]*)=\s*(PID[^\s]*)")


@dataclass(frozen=True)
class ProcessTable:
    titles: tuple[str, ...]
    processes: tuple[tuple[str, ...], ...]


async def top(pids: list[int], ps_args: str = "") -> ProcessTable:
    args = (ps_args or DEFAULT_ARGS).split(" ")
    for key, value in _RENAMED_PID.findall(ps_args):
        if key != "pid":
            raise InvalidArgument(f'specifying "{key}={value}" is not allowed')
    pid_list = ",".join(str(p) for p in pids)
    code, out, err = await _run([PS, *args, "-q", pid_list])
    if code != 0:
        code, out, err = await _run([PS, *args])
        if code != 0:
            first = err.decode(errors="replace").split("\n", 1)[0]
            raise BerthError(f"ps: {first or f'exit status {code}'}")
    return parse(out.decode(errors="replace"), set(pids))


async def _run(argv: list[str]) -> tuple[int, bytes, bytes]:
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=_PS_ENV)
    except OSError as exc:
        raise BerthError(f"ps: {exc}") from exc
    out, err = await proc.communicate()
    return proc.returncode or 0, out, err


def parse(output: str, pids: set[int]) -> ProcessTable:
    """moby's parsePSOutput: keep the rows whose PID is the container's, and the thread
    rows ("-" in PID, with ``-m``) that follow such a row; the last column (the command)
    keeps its spaces."""
    lines = output.split("\n")
    titles = tuple(lines[0].split())
    if "PID" not in titles:
        raise BerthError("Couldn't find PID field in ps output")
    pid_index = titles.index("PID")
    rows: list[tuple[str, ...]] = []
    previous_kept = False
    for line in lines[1:]:
        fields = line.split()
        if not fields:
            continue
        if fields[pid_index] == "-":
            if previous_kept:
                rows.append(_row(fields, len(titles)))
            continue
        try:
            pid = int(fields[pid_index])
        except ValueError:
            raise BerthError(f"Unexpected pid '{fields[pid_index]}'") from None
        previous_kept = pid in pids
        if previous_kept:
            rows.append(_row(fields, len(titles)))
    return ProcessTable(titles, tuple(rows))


def _row(fields: list[str], columns: int) -> tuple[str, ...]:
    return (*fields[:columns - 1], " ".join(fields[columns - 1:]))
