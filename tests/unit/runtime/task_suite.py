"""The conformance suite of ``berth.runtime.task`` (containerd's testsuite habit): what the
engine relies on a ``Task`` and its ``TaskManager`` for.

``test_task_fakes.py`` runs it against ``fakes.FakeTaskManager``;
tests/integration/shim/test_task_conformance.py against the shim client (``ShimManager``)
with busybox, for each runtime. So where the engine's unit tests lean on the fake, it
behaves as the shim does. A test module provides the ``open_tasks`` fixture: an async
context giving ``Tasks``; each case runs in a loop of its own.

The commands are the ones the fake understands (``fakes``): ``SLEEPER`` is a PID 1 without
signal handlers (only SIGKILL ends it), ``TERM_HANDLER`` one that exits 143 at SIGTERM,
``exits(N)`` exits N by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import pytest
from tests.unit.runtime.fakes import KILLED, SLEEPER, TERM_HANDLER, exits

from berth.errors import BerthError, Conflict, InvalidArgument, NotFound, RuntimeFailure
from berth.runtime.shim import ShimOptions
from berth.runtime.task import Task, TaskManager

CASE_TIMEOUT = 30.0


@dataclass
class Tasks:
    manager: TaskManager
    options: Callable[[tuple[str, ...]], ShimOptions]  # a new container running argv
    # Returns once the task's init has installed its SIGTERM handler (a real shell takes
    # a moment after start; the fake has it at once).
    term_handled: Callable[[Task], Awaitable[None]]
    settle: float  # how long a signal may take to act (0: the fake acts on the next turn)
    made: list[Task] = field(default_factory=list)

    async def create(self, argv: tuple[str, ...]) -> Task:
        task = await self.manager.create(self.options(argv))
        self.made.append(task)
        return task

    async def started(self, argv: tuple[str, ...]) -> Task:
        task = await self.create(argv)
        await task.start()
        return task

    async def ended(self, task: Task) -> bool:
        """Whether the task's exit comes within ``settle`` (the fake's: 20 turns)."""
        waiter = asyncio.ensure_future(task.wait())
        try:
            if self.settle:
                await asyncio.wait({waiter}, timeout=self.settle)
            else:
                for _ in range(20):
                    await asyncio.sleep(0)
            return waiter.done()
        finally:
            waiter.cancel()


OpenTasks = Callable[[], AbstractAsyncContextManager[Tasks]]
Case = Callable[[Tasks], Awaitable[None]]


def run(open_tasks: OpenTasks, case: Case) -> None:
    async def main() -> None:
        async with open_tasks() as tasks:
            try:
                await asyncio.wait_for(case(tasks), CASE_TIMEOUT)
            finally:
                for task in tasks.made:  # a failed case leaves nothing running
                    with contextlib.suppress(BerthError, TimeoutError):
                        await task.kill(signal.SIGKILL)
                        await asyncio.wait_for(task.wait(), 10)
                    await task.close()

    asyncio.run(main())


def process(argv: tuple[str, ...]) -> Any:
    return {"user": {"uid": 0, "gid": 0}, "args": list(argv), "cwd": "/",
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "noNewPrivileges": True}


class TaskSuite:
    def test_a_started_task_exits_with_its_code_and_every_wait_hears_it(
            self, open_tasks: OpenTasks) -> None:
        async def case(t: Tasks) -> None:
            before = time.time()
            task = await t.create(exits(3))
            pid = task.init_pid
            assert pid > 0  # known from create on: the prepare hooks use it
            await task.start()
            assert task.init_pid == pid
            waits = await asyncio.gather(task.wait(), task.wait())
            status = waits[0]
            assert (status.exit_code, status.oom_killed) == (3, False)
            assert before <= status.finished_at <= time.time()
            assert waits[1] == status
            assert await task.wait() == status  # after the exit too

        run(open_tasks, case)

    def test_sigkill_ends_a_running_task_with_137(self, open_tasks: OpenTasks) -> None:
        async def case(t: Tasks) -> None:
            task = await t.started(SLEEPER)
            waiter = asyncio.ensure_future(task.wait())
            await task.kill(signal.SIGKILL)
            status = await waiter
            assert status.exit_code == KILLED
            assert await task.wait() == status

        run(open_tasks, case)

    def test_sigterm_is_ignored_by_a_pid_1_without_a_handler(
            self, open_tasks: OpenTasks) -> None:
        """What makes a stop escalate to SIGKILL after its grace period."""
        async def case(t: Tasks) -> None:
            task = await t.started(SLEEPER)
            await task.kill(signal.SIGTERM)
            assert not await t.ended(task)
            await task.kill(signal.SIGKILL)
            assert (await task.wait()).exit_code == KILLED

        run(open_tasks, case)

    def test_sigterm_ends_a_pid_1_that_handles_it(self, open_tasks: OpenTasks) -> None:
        async def case(t: Tasks) -> None:
            task = await t.started(TERM_HANDLER)
            await t.term_handled(task)
            await task.kill(signal.SIGTERM)
            assert (await task.wait()).exit_code == 128 + signal.SIGTERM

        run(open_tasks, case)

    def test_sigkill_ends_a_task_never_started(self, open_tasks: OpenTasks) -> None:
        """How the engine discards a task whose prepare or attach failed."""
        async def case(t: Tasks) -> None:
            task = await t.create(SLEEPER)
            await task.kill(signal.SIGKILL)
            assert (await task.wait()).exit_code == KILLED

        run(open_tasks, case)

    def test_start_twice_is_refused(self, open_tasks: OpenTasks) -> None:
        async def case(t: Tasks) -> None:
            task = await t.started(SLEEPER)
            with pytest.raises(RuntimeFailure, match="container is running"):
                await task.start()

        run(open_tasks, case)

    def test_kill_after_the_exit_is_a_no_op(self, open_tasks: OpenTasks) -> None:
        async def case(t: Tasks) -> None:
            task = await t.started(exits(5))
            status = await task.wait()
            await task.kill(signal.SIGKILL)
            await task.kill(signal.SIGTERM)
            assert await task.wait() == status

        run(open_tasks, case)

    def test_pause_and_resume_each_once(self, open_tasks: OpenTasks) -> None:
        async def case(t: Tasks) -> None:
            task = await t.create(SLEEPER)
            with pytest.raises(Conflict, match="is not running"):
                await task.pause()
            await task.start()
            await task.pause()
            with pytest.raises(Conflict, match="already paused"):
                await task.pause()
            await task.resume()
            with pytest.raises(Conflict, match="not paused"):
                await task.resume()
            await task.pause()
            await task.resume()
            assert not await t.ended(task)

        run(open_tasks, case)

    def test_sigkill_thaws_a_paused_task(self, open_tasks: OpenTasks) -> None:
        """The engine's resume after killing a paused container finds it thawed."""
        async def case(t: Tasks) -> None:
            task = await t.started(SLEEPER)
            await task.pause()
            await task.kill(signal.SIGKILL)
            with pytest.raises(Conflict):
                await task.resume()
            assert (await task.wait()).exit_code == KILLED

        run(open_tasks, case)

    def test_a_paused_task_acts_on_sigterm_once_resumed(self, open_tasks: OpenTasks) -> None:
        async def case(t: Tasks) -> None:
            task = await t.started(TERM_HANDLER)
            await t.term_handled(task)
            await task.pause()
            await task.kill(signal.SIGTERM)
            assert not await t.ended(task)
            await task.resume()
            assert (await task.wait()).exit_code == 128 + signal.SIGTERM

        run(open_tasks, case)

    def test_close_is_idempotent_and_the_container_runs_on(
            self, open_tasks: OpenTasks) -> None:
        async def case(t: Tasks) -> None:
            task = await t.started(SLEEPER)
            await task.close()
            await task.close()
            assert not await t.ended(task)
            await task.kill(signal.SIGKILL)  # the handle still works after close
            assert (await task.wait()).exit_code == KILLED
            await task.close()

        run(open_tasks, case)

    def test_resize_takes_a_winsize(self, open_tasks: OpenTasks) -> None:
        async def case(t: Tasks) -> None:
            task = await t.started(SLEEPER)
            await task.resize(24, 80)  # no tty: nothing to resize, and no error
            for height, width in ((-1, 80), (24, 65536)):
                with pytest.raises(InvalidArgument):
                    await task.resize(height, width)

        run(open_tasks, case)

    def test_an_exec_exits_with_its_code_once(self, open_tasks: OpenTasks) -> None:
        async def case(t: Tasks) -> None:
            task = await t.started(SLEEPER)
            await task.exec_create("e1", process(exits(7)), tty=False, open_stdin=False)
            with pytest.raises(Conflict, match="already exists"):
                await task.exec_create("e1", process(exits(7)), tty=False,
                                       open_stdin=False)
            assert await task.exec_start("e1") > 0
            assert await task.exec_wait("e1") == 7
            assert await task.exec_wait("e1") == 7  # kept after it ended
            with pytest.raises(Conflict, match="already been started"):
                await task.exec_start("e1")
            for call in (task.exec_start("nope"), task.exec_wait("nope"),
                         task.exec_resize("nope", 24, 80)):
                with pytest.raises(NotFound):
                    await call

        run(open_tasks, case)

    def test_execs_need_a_running_unpaused_container_and_end_with_it(
            self, open_tasks: OpenTasks) -> None:
        async def case(t: Tasks) -> None:
            task = await t.create(SLEEPER)
            with pytest.raises(Conflict, match="is not running"):
                await task.exec_create("e", process(SLEEPER), tty=False, open_stdin=False)
            await task.start()
            await task.exec_create("long", process(SLEEPER), tty=False, open_stdin=False)
            await task.exec_create("never", process(SLEEPER), tty=False, open_stdin=False)
            await task.pause()
            with pytest.raises(Conflict, match="unpause the container before exec"):
                await task.exec_start("long")
            await task.resume()
            assert await task.exec_start("long") > 0
            long_wait = asyncio.ensure_future(task.exec_wait("long"))
            never_wait = asyncio.ensure_future(task.exec_wait("never"))
            assert not await t.ended(task)  # and the waits are asked before the exit
            await task.kill(signal.SIGKILL)
            assert await long_wait == KILLED  # killed with the container's pid namespace
            with pytest.raises(Conflict, match="never ran"):
                await never_wait
            await task.wait()

        run(open_tasks, case)

    def test_connect_finds_a_running_task_and_nothing_elsewhere(
            self, open_tasks: OpenTasks) -> None:
        """Live restore: a new handle on the same container."""
        async def case(t: Tasks) -> None:
            opts = t.options(SLEEPER)
            task = await t.manager.create(opts)
            t.made.append(task)
            await task.start()
            again = await t.manager.connect(opts.state_dir)
            assert again is not None and again.init_pid == task.init_pid
            await again.kill(signal.SIGKILL)
            assert (await task.wait()).exit_code == KILLED
            await again.close()
            assert await t.manager.connect(t.options(SLEEPER).state_dir) is None

        run(open_tasks, case)
