"""``berth-runtime list`` and ``ps``: runc's output, byte for byte.

``list`` is Go's tabwriter (minwidth 12, padding 3) over ID, PID, STATUS, BUNDLE, CREATED,
OWNER, or ``--format json`` (a compact array; ``null`` when empty), or ``-q`` (ids).
``ps`` runs the host's ``ps`` (``-ef`` unless arguments follow the id) and keeps the
header and the lines whose PID column is a process of the container's cgroup;
``--format json`` prints those pids.
"""

from __future__ import annotations

import argparse
import subprocess
from typing import Any

from berth.runtime.linux import state as cstate
from berth.runtime.linux.cli_log import CommandError, go_json
from berth.runtime.linux.runtime import NativeRuntime

_COLUMNS = ("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")


def register(sub: Any) -> None:
    p = sub.add_parser("list")
    p.add_argument("--format", "-f", default="table")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=list_containers)
    p = sub.add_parser("ps")
    p.add_argument("--format", "-f", default="table")
    p.add_argument("id")
    p.add_argument("ps_args", nargs="...")
    p.set_defaults(func=ps)


def list_containers(args: argparse.Namespace) -> int:
    runtime = NativeRuntime(state_root=args.root, subreaper=False)
    containers = cstate.list_all(runtime)
    if args.quiet:
        for container in containers:
            print(container.state.id)
        return 0
    if args.format == "json":
        docs = [cstate.document(c, c.owner) for c in containers]
        print(go_json(docs or None))
        return 0
    if args.format != "table":
        raise CommandError("invalid format option")
    rows = [list(_COLUMNS)]
    for c in containers:
        doc = cstate.document(c, c.owner)
        rows.append([str(doc[k]) for k in ("id", "pid", "status", "bundle", "created",
                                           "owner")])
    print(tabwrite(rows), end="")
    return 0


def tabwrite(rows: list[list[str]], minwidth: int = 12, padding: int = 3) -> str:
    """Go's ``tabwriter.NewWriter(w, minwidth, 1, padding, ' ', 0)`` for rows of cells
    (every cell but the last of a row is tab-terminated, so padded)."""
    widths = [max(minwidth, max(len(row[i]) for row in rows) + padding)
              for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("".join(cells) + row[-1] + "\n")
    return "".join(lines)


def ps(args: argparse.Namespace) -> int:
    runtime = NativeRuntime(state_root=args.root, subreaper=False)
    container = cstate.load(runtime, args.id)
    pids = cstate.cgroup(container.state).pids() if container.state.cgroups_path else []
    if args.format == "json":
        print(go_json(pids or None))
        return 0
    if args.format != "table":
        raise CommandError("invalid format option")
    ps_args = list(args.ps_args)
    if ps_args[:1] == ["--"]:
        ps_args = ps_args[1:]  # runc 1.1 hands "--" to ps, which refuses it
    result = subprocess.run(["ps", *(ps_args or ["-ef"])], capture_output=True, text=True,
                            check=False)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise CommandError(f"exit status {result.returncode}: {output}")
    lines = result.stdout.split("\n")
    header = lines[0].split()
    if "PID" not in header:
        raise CommandError("couldn't find PID field in ps output")
    index = header.index("PID")
    print(lines[0])
    wanted = set(pids)
    for line in lines[1:]:
        if not line:
            continue
        try:
            pid = int(line.split()[index])
        except (ValueError, IndexError):
            raise CommandError("unable to parse pid: " + line) from None
        if pid in wanted:
            print(line)
    return 0
