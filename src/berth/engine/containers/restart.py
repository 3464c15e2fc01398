"""Restart policies: whether a container that exited starts again, and when.

The decisions are docker's (moby ``restartmanager`` and ``daemon/monitor.go``)::

    exit ──▶ should_restart(policy, code, manually stopped, count)?
              │ no: exited (auto-remove if asked)
              ▼ yes
            restarting (RestartCount+1, "die" published) ──sleep backoff──▶ start ("start")
                 ▲ stop / kill / rm -f / a manual start cancel the sleep

    backoff: 100 ms, doubled after each restart up to 1 min; back to 100 ms once a run
             lasted 10 s or more.

A stop or a kill with the stop signal (or SIGKILL) through the API means "do not restart
after this exit" (docker's ``ExitOnNext``), whatever the policy; any API stop or kill also
sets ``manually_stopped`` (``HasBeenManuallyStopped``, persisted), which keeps an
``unless-stopped`` container down, even across a daemon restart, until it is started by
hand. At daemon start, ``always`` containers start even after a manual stop.

Races (``service.py``): an exit is recorded under the container's lock, so a stop or kill
that finds the shim gone while the record still says running waits for that outcome and
then cancels the backoff like any other; the manual-stop mark is saved under the lock
too (never over a newer record); a backoff that ends while a stop holds the lock finds
the container exited and does not start it. An API restart (``ContainerService.restart``)
holds the lock from its stop through its start and records the exit it caused itself:
that exit is never the policy's to restart (nor an auto-remove), and a backoff that ends
meanwhile finds the container running. The locks of every operation:
docs/design/lifecycle.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from berth.engine.containers.model import Container, RestartPolicy, Status
from berth.errors import InvalidArgument

log = logging.getLogger(__name__)

NO, ALWAYS, ON_FAILURE, UNLESS_STOPPED = "no", "always", "on-failure", "unless-stopped"
BACKOFF_START = 0.1  # seconds
BACKOFF_MAX = 60.0
BACKOFF_RESET_AFTER = 10.0  # a run this long counts as healthy: the backoff starts over


def validate(policy: RestartPolicy, auto_remove: bool) -> None:
    """Refuse what moby's ``ValidateRestartPolicy`` and create-time checks refuse."""
    name, count = policy.name, policy.maximum_retry_count
    if name in (NO, ALWAYS, UNLESS_STOPPED, ""):
        if count:
            msg = ("invalid restart policy: maximum retry count can only be used with "
                   "'on-failure'")
            raise InvalidArgument(msg + (" and cannot be negative" if count < 0 else ""))
    elif name == ON_FAILURE:
        if count < 0:
            raise InvalidArgument(
                "invalid restart policy: maximum retry count cannot be negative")
    else:
        raise InvalidArgument(
            f"invalid restart policy: unknown policy '{name}'; use one of "
            f"'{NO}', '{ALWAYS}', '{ON_FAILURE}', or '{UNLESS_STOPPED}'")
    if auto_remove and name not in (NO, ""):
        raise InvalidArgument("can't create 'AutoRemove' container with restart policy")


def should_restart(policy: RestartPolicy, exit_code: int, manually_stopped: bool,
                   restart_count: int) -> bool:
    """moby's ``RestartManager.ShouldRestart`` (the cancelled case is the caller's)."""
    if policy.name == ALWAYS:
        return True
    if policy.name == UNLESS_STOPPED:
        return not manually_stopped
    if policy.name == ON_FAILURE:
        limit = policy.maximum_retry_count
        return exit_code != 0 and (limit == 0 or restart_count < limit)
    return False


def start_at_daemon_start(c: Container) -> bool:
    """Whether ``restore`` starts ``c``: an ``always`` container that is not running, an
    ``unless-stopped`` one nobody stopped, or one the last daemon left in its backoff."""
    if c.state.status == Status.RESTARTING:
        return True
    if c.state.status not in (Status.CREATED, Status.EXITED):
        return False
    policy = c.spec.restart_policy.name
    return policy == ALWAYS or (policy == UNLESS_STOPPED and not c.manually_stopped)


@dataclass
class Backoff:
    """moby's restart timeout: the delay before the next restart of one container."""

    delay: float = 0.0

    def next(self, ran_for: float) -> float:
        if ran_for >= BACKOFF_RESET_AFTER:
            self.delay = 0.0
        self.delay = BACKOFF_START if not self.delay else min(self.delay * 2, BACKOFF_MAX)
        return self.delay


class RestartSupervisor:
    """Owns the backoff sleeps: at most one per container, each a task kept in a set and
    cancelled by ``cancel`` (stop, kill, rm, manual start) or ``close`` (daemon exit).

    Only the sleep is cancellable: once it is over, ``restart`` runs to its end, so a
    cancellation never cuts a start in half (and leaves no shim nobody knows about)."""

    def __init__(self, restart: Callable[[str], Awaitable[None]]) -> None:
        self._restart = restart
        self._backoff: dict[str, Backoff] = {}
        self._sleeping: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def next_delay(self, cid: str, ran_for: float) -> float:
        return self._backoff.setdefault(cid, Backoff()).next(ran_for)

    def schedule(self, cid: str, delay: float) -> None:
        self.cancel(cid)
        task = asyncio.create_task(self._run(cid, delay), name=f"restart-{cid[:12]}")
        self._sleeping[cid] = task
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def pending(self, cid: str) -> bool:
        return cid in self._sleeping

    def cancel(self, cid: str) -> bool:
        """Cancel the backoff sleep of ``cid``; whether there was one."""
        task = self._sleeping.pop(cid, None)
        if task is None:
            return False
        task.cancel()
        return True

    def forget(self, cid: str) -> None:
        """A manual start or a removal: cancel, and start the backoff over."""
        self.cancel(cid)
        self._backoff.pop(cid, None)

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._sleeping.clear()

    async def _run(self, cid: str, delay: float) -> None:
        await asyncio.sleep(delay)
        if self._sleeping.get(cid) is asyncio.current_task():
            del self._sleeping[cid]
            await self._restart(cid)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("restarting a container failed", exc_info=task.exception())
