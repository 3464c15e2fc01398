"""Healthchecks: one probe loop per running container that has a healthcheck.

docker's semantics (moby ``daemon/health.go``)::

    start ──▶ starting ──probe exit 0──▶ healthy ◀─────────────┐
                 │                          │ probe fails         │ probe exit 0
                 │ `retries` failures in a  ▼ (FailingStreak+1)   │
                 └── row (none counted ───▶ unhealthy ───────────┘
                     in the start period)
    exit ──▶ the loop stops and the status becomes unhealthy (docker does the same)

A probe is an exec of the test (``CMD`` argv, or ``CMD-SHELL`` through ``/bin/sh -c``)
with a timeout; a timeout records exit code -1 and docker's message. Probes start one
interval after the start (``start_interval`` while still starting inside the start
period). Every status change is published as ``health_status: <status>``. The health
lives in memory while the container runs (no disk write per probe) and goes into the
record with the exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from berth.engine import clock
from berth.engine.containers.model import Container, Health, Healthcheck, HealthProbe
from berth.errors import BerthError, InvalidArgument

log = logging.getLogger(__name__)

SECOND = 1_000_000_000
DEFAULT_INTERVAL = 30 * SECOND
DEFAULT_TIMEOUT = 30 * SECOND
DEFAULT_START_INTERVAL = 5 * SECOND
DEFAULT_RETRIES = 3
MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096
BACKSTOP = 5.0  # seconds past a probe's own timeout before the loop gives up on it
STARTING, HEALTHY, UNHEALTHY = "starting", "healthy", "unhealthy"


class Prober(Protocol):
    """Runs a command in a running container (the exec service)."""

    async def run_captured(self, container_ref: str, argv: list[str],
                           timeout: float) -> tuple[int, bytes]:
        """(exit code, output); on timeout (-1, docker's "Health check exceeded timeout")."""
        ...


@dataclass(frozen=True)
class Timing:
    """A healthcheck's durations in seconds, with docker's defaults filled in."""

    interval: float
    timeout: float
    start_period: float
    start_interval: float
    retries: int

    @classmethod
    def of(cls, hc: Healthcheck) -> Timing:
        return cls(interval=(hc.interval or DEFAULT_INTERVAL) / SECOND,
                   timeout=(hc.timeout or DEFAULT_TIMEOUT) / SECOND,
                   start_period=hc.start_period / SECOND,
                   start_interval=(hc.start_interval or DEFAULT_START_INTERVAL) / SECOND,
                   retries=hc.retries or DEFAULT_RETRIES)


def from_image(config: dict[str, Any] | None) -> Healthcheck | None:
    """The image's ``config.Healthcheck`` (HEALTHCHECK in its Dockerfile), if any."""
    if not config:
        return None
    return Healthcheck(test=tuple(config.get("Test") or ()),
                       interval=int(config.get("Interval") or 0),
                       timeout=int(config.get("Timeout") or 0),
                       start_period=int(config.get("StartPeriod") or 0),
                       start_interval=int(config.get("StartInterval") or 0),
                       retries=int(config.get("Retries") or 0))


def merge(user: Healthcheck | None, image: Healthcheck | None) -> Healthcheck | None:
    """docker's create-time merge: each unset field of the request takes the image's."""
    if user is None or image is None:
        return user or image
    return Healthcheck(test=user.test or image.test,
                       interval=user.interval or image.interval,
                       timeout=user.timeout or image.timeout,
                       start_period=user.start_period or image.start_period,
                       start_interval=user.start_interval or image.start_interval,
                       retries=user.retries or image.retries)


def validate(hc: Healthcheck | None) -> None:
    if hc is None:
        return
    for name, value in (("Interval", hc.interval), ("Timeout", hc.timeout),
                        ("StartPeriod", hc.start_period),
                        ("StartInterval", hc.start_interval)):
        if value and value < 1_000_000:
            raise InvalidArgument(f"{name} in Healthcheck cannot be less than 1ms")
    if hc.retries < 0:
        raise InvalidArgument("Retries in Healthcheck cannot be negative")
    if hc.test and hc.test[0] not in ("NONE", "CMD", "CMD-SHELL"):
        raise InvalidArgument(f"unknown healthcheck type '{hc.test[0]}' "
                              "(expected 'CMD' or 'CMD-SHELL')")


def probe_argv(hc: Healthcheck | None) -> tuple[str, ...] | None:
    """What a probe runs; None when there is no healthcheck (absent, or ``NONE``)."""
    if hc is None or not hc.test or hc.test[0] == "NONE":
        return None
    if hc.test[0] == "CMD-SHELL":
        return ("/bin/sh", "-c", " ".join(hc.test[1:]))
    return hc.test[1:] or None


def record(health: Health, probe: HealthProbe, timing: Timing, since_start: float) -> Health:
    """The state machine: ``health`` after ``probe``, which began ``since_start`` seconds
    after the container started (failures in the start period do not count while
    ``starting``)."""
    log_entries = (*health.log, probe)[-MAX_LOG_ENTRIES:]
    if probe.exit_code == 0:
        return Health(HEALTHY, 0, log_entries)
    if health.status == STARTING and since_start < timing.start_period:
        return Health(health.status, health.failing_streak, log_entries)
    streak = health.failing_streak + 1
    status = UNHEALTHY if streak >= timing.retries else health.status
    return Health(status, streak, log_entries)


class HealthChecks:
    """The probe loops of all running containers and the health they found.

    ``changed(container_id, health)`` is called after each status change (the service
    publishes the event); ``current`` serves inspect and ps."""

    def __init__(self, changed: Callable[[str, Health], None],
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._changed = changed
        self._monotonic = monotonic
        self._prober: Prober | None = None
        self._health: dict[str, Health] = {}
        self._loops: dict[str, asyncio.Task[None]] = {}
        self._waiting: dict[str, Container] = {}  # started before there was a prober

    def set_prober(self, prober: Prober) -> None:
        """Wire the exec service (made after the containers are restored) and start the
        loops of the containers restored or restarted before it existed."""
        self._prober = prober
        waiting, self._waiting = self._waiting, {}
        for c in waiting.values():
            self.start(c)

    def current(self, cid: str) -> Health | None:
        return self._health.get(cid)

    def overlay(self, c: Container) -> Container:
        """``c`` with the health its probe loop has found since the last save."""
        health = self._health.get(c.id)
        if health is None or health is c.state.health:
            return c
        return c.with_state(health=health)

    def start(self, c: Container) -> None:
        """Begin probing ``c`` (just started): status ``starting``, failing streak 0."""
        self.stop(c.id)
        argv = probe_argv(c.spec.healthcheck)
        if argv is None or c.spec.healthcheck is None:
            self._health.pop(c.id, None)
            return
        previous = self._health.get(c.id) or c.state.health or Health()
        self._health[c.id] = Health(STARTING, 0, previous.log)
        if self._prober is None:
            self._waiting[c.id] = c
            return
        self._loops[c.id] = asyncio.create_task(
            self._loop(c.id, argv, Timing.of(c.spec.healthcheck), self._prober),
            name=f"health-{c.id[:12]}")

    def stop(self, cid: str) -> None:
        """The container exited: stop probing; docker then reports ``unhealthy``."""
        task = self._loops.pop(cid, None)
        if task is not None:
            task.cancel()
        self._waiting.pop(cid, None)
        health = self._health.get(cid)
        if health is not None and task is not None:
            self._health[cid] = replace(health, status=UNHEALTHY)

    def forget(self, cid: str) -> None:
        self.stop(cid)
        self._health.pop(cid, None)

    async def close(self) -> None:
        tasks = list(self._loops.values())
        self._loops.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self, cid: str, argv: tuple[str, ...], timing: Timing,
                    prober: Prober) -> None:
        started = self._monotonic()
        while True:
            since_start = self._monotonic() - started
            starting = self._health[cid].status == STARTING
            in_start_period = since_start < timing.start_period
            await asyncio.sleep(timing.start_interval if starting and in_start_period
                                else timing.interval)
            since_start = self._monotonic() - started
            probe = await self._probe(cid, argv, timing.timeout, prober)
            if self._loops.get(cid) is not asyncio.current_task():
                return  # stopped while the probe ran: its result no longer counts
            before = self._health[cid]
            after = record(before, probe, timing, since_start)
            self._health[cid] = after
            if after.status != before.status:
                self._changed(cid, after)

    @staticmethod
    async def _probe(cid: str, argv: tuple[str, ...], timeout: float,
                     prober: Prober) -> HealthProbe:
        begin = clock.rfc3339()
        try:
            # The exec service enforces the timeout; wait_for is the backstop if it hangs.
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
            async with asyncio.timeout(timeout + BACKSTOP):
                code, output = await prober.run_captured(cid, list(argv), timeout)
            text = output[:MAX_OUTPUT].decode("utf-8", "replace")
        except TimeoutError:
            code, text = -1, "Health check did not finish (the exec service hung)"
        except BerthError as err:
            code, text = -1, err.message
        return HealthProbe(start=begin, end=clock.rfc3339(), exit_code=code, output=text)
