"""Futures parked on a container until something happens to it.

Docker's CLI registers its wait and its attach *before* it starts a container, so both
must be parked and answered later without missing a fast exit::

    wait not-running|next-exit ─▶ exits[id]     ── exited(id, code) answers them
    wait removed ───────────────▶ removals[id]  ── removed(id, code) answers both tables
    attach (not started yet) ───▶ attaches[id]  ── connect(id, task) inside start's window,
                                                   fail(id, err) when the start fails
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass

from berth.engine.containers.model import Container
from berth.errors import InvalidArgument
from berth.runtime.task import Streams, Task

__all__ = ["AttachRequest", "Streams", "Waiters"]


@dataclass(frozen=True)
class AttachRequest:
    stdin: bool
    stdout: bool
    stderr: bool


class Waiters:
    def __init__(self) -> None:
        self._exits: dict[str, list[asyncio.Future[int]]] = defaultdict(list)
        self._removals: dict[str, list[asyncio.Future[int]]] = defaultdict(list)
        self._attaches: dict[str, list[tuple[AttachRequest, asyncio.Future[Streams]]]] = (
            defaultdict(list))

    def on_exit(self, cid: str) -> asyncio.Future[int]:
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._exits[cid].append(fut)
        return fut

    def on_removal(self, cid: str) -> asyncio.Future[int]:
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._removals[cid].append(fut)
        return fut

    def on_condition(self, c: Container, condition: str) -> asyncio.Future[int]:
        """docker's wait ``condition``: ``not-running`` (answered at once if it is not),
        ``next-exit`` or ``removed``; InvalidArgument for any other."""
        if condition not in ("not-running", "next-exit", "removed"):
            raise InvalidArgument(f"invalid condition: {condition!r}")
        if condition == "removed":
            return self.on_removal(c.id)
        if condition == "not-running" and not c.state.running:
            done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            done.set_result(c.state.exit_code)
            return done
        return self.on_exit(c.id)

    def exited(self, cid: str, code: int) -> None:
        _wake(self._exits, cid, code)

    def removed(self, cid: str, code: int) -> None:
        _wake(self._removals, cid, code)
        _wake(self._exits, cid, code)

    async def attach_after_start(self, cid: str, req: AttachRequest) -> Streams:
        fut: asyncio.Future[Streams] = asyncio.get_running_loop().create_future()
        self._attaches[cid].append((req, fut))
        try:
            return await fut
        finally:
            with contextlib.suppress(ValueError):
                self._attaches[cid].remove((req, fut))

    async def connect(self, cid: str, task: Task) -> None:
        """Attach the parked requests to a created container before it runs anything."""
        for req, fut in self._attaches.pop(cid, []):
            if fut.done():
                continue
            try:
                fut.set_result(await task.attach(req.stdin, req.stdout, req.stderr))
            except OSError as err:
                fut.set_exception(err)

    def fail(self, cid: str, err: BaseException) -> None:
        for _, fut in self._attaches.pop(cid, []):
            if not fut.done():
                fut.set_exception(err)


def _wake(table: dict[str, list[asyncio.Future[int]]], cid: str, code: int) -> None:
    for fut in table.pop(cid, []):
        if not fut.done():
            fut.set_result(code)
