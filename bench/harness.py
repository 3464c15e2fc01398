"""What every benchmark entry does around its measurements: a private work dir
``/tmp/bb-<tag>`` (short: berthd's shim sockets must fit a unix socket path), SIGTERM as
Ctrl-C, the daemons' last log lines on failure, a cleanup that stops only what this run
started, and the optional JSON result."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from host import (
    BenchError,
    log,
    processes_mentioning,
    remove_cgroups,
    stop_pid,
    tail,
    unmount_under,
)

Stoppers = list[Callable[[], None]]


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cleanup(work: Path, tag: str, stoppers: Stoppers) -> None:
    # the cleanup itself must not be cut short by a second Ctrl-C
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        for stop in reversed(stoppers):
            try:
                stop()
            except (OSError, BenchError, subprocess.SubprocessError) as err:
                log(f"cleanup: {err}")
        for pid in processes_mentioning(str(work)):
            stop_pid(pid, "leftover", str(work), 5)
        still = unmount_under(work)
        for problem in remove_cgroups(f"berth-bench-{tag}"):
            log(f"cleanup: cgroup left: {problem}")
        if still:
            log(f"cleanup: still mounted, NOT removing {work}: {still}")
        else:
            shutil.rmtree(work, ignore_errors=True)
            if work.exists():
                log(f"cleanup: could not remove all of {work}")
    finally:
        signal.signal(signal.SIGINT, previous)


def run_privately(prog: str, json_out: Path | None,
                  body: Callable[[Path, str, Stoppers], dict[str, Any]]) -> int:
    """Run ``body(work, tag, stoppers)`` in a fresh work dir; clean up whatever happens."""
    if os.geteuid() != 0:
        print(f"{prog} needs root (daemons, mounts, cgroups)", file=sys.stderr)
        return 2
    tag = secrets.token_hex(4)
    work = Path(f"/tmp/bb-{tag}")
    work.mkdir(mode=0o700)
    stoppers: Stoppers = []
    try:
        with sigterm_as_interrupt():
            result = body(work, tag, stoppers)
    except (BenchError, subprocess.TimeoutExpired) as err:
        print(f"{prog}: {err}", file=sys.stderr)
        for name in ("berthd.log", "dockerd.log"):
            if (work / name).exists():
                print(f"--- last lines of {name}:\n{tail(work / name, 30)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted, cleaning up", file=sys.stderr)
        return 130
    finally:
        log("cleaning up")
        cleanup(work, tag, stoppers)
    if json_out:
        json_out.write_text(json.dumps(result, indent=2) + "\n")
        log(f"wrote {json_out}")
    return 0


def entry_parser(doc: str | None, rounds: int) -> argparse.ArgumentParser:
    """The options every entry takes (``--rounds``, ``--skip-docker``, ``--json``); an
    entry adds its own, then parses with :func:`parse_entry_args`."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)
    p.add_argument("--rounds", type=int, default=rounds)
    p.add_argument("--skip-docker", action="store_true")
    p.add_argument("--json", type=Path)
    return p


def parse_entry_args(p: argparse.ArgumentParser,
                     argv: Sequence[str] | None) -> argparse.Namespace:
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    return args
