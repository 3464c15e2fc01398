"""The service's life cycle over fake tasks: where the prepare hooks run, and a restart
that holds the container's lock across the exit it causes.

The service runs for real over a SQLite store and writes real bundles (a rootfs of one
bind); the tasks are fakes that record what is asked of them and exit when killed, or,
for a ``gated`` task, once the test opens its gate. Nothing sleeps.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from tests.unit.engine.containers.stubs import StubImages

from berth.engine.containers.model import Container, ContainerSpec, Status
from berth.engine.containers.service import ContainerService, ServiceOptions
from berth.engine.containers.store import ContainerStore
from berth.engine.events import Event, EventBus
from berth.errors import InvalidArgument, NotModified, RuntimeFailure
from berth.oci.spec import Process
from berth.runtime.shim import ExitStatus, ShimOptions
from berth.runtime.task import Streams, Task
from berth.store.metadata.containers import ContainerRecords
from berth.store.metadata.db import Database


class _Task:
    """A created container: exits 128+signal at the first kill (a gated one only once
    ``gate`` is set), as a PID 1 killed by SIGKILL or by a signal it does not handle."""

    def __init__(self, log: list[str], gated: bool) -> None:
        self.log = log
        self.init_pid = 4242
        self.started = False
        self.gate = asyncio.Event()
        if not gated:
            self.gate.set()
        self._exit: asyncio.Future[ExitStatus] = asyncio.get_running_loop().create_future()

    async def start(self) -> None:
        self.started = True
        self.log.append("start")

    async def kill(self, signal: int) -> None:
        self.log.append(f"kill {signal}")
        asyncio.get_running_loop().create_task(self._die(signal))

    async def _die(self, signal: int) -> None:
        await self.gate.wait()
        if not self._exit.done():
            self._exit.set_result(ExitStatus(128 + signal, False, time.time()))

    async def wait(self) -> ExitStatus:
        return await asyncio.shield(self._exit)

    async def resize(self, height: int, width: int) -> None: ...

    async def pause(self) -> None: ...

    async def resume(self) -> None: ...

    async def exec_create(self, exec_id: str, process: Process, tty: bool,
                          open_stdin: bool) -> None:
        raise NotImplementedError

    async def exec_start(self, exec_id: str) -> int:
        raise NotImplementedError

    async def exec_wait(self, exec_id: str) -> int:
        raise NotImplementedError

    async def exec_resize(self, exec_id: str, height: int, width: int) -> None: ...

    async def attach(self, stdin: bool, stdout: bool, stderr: bool,
                     exec_id: str | None = None) -> Streams:
        raise NotImplementedError

    async def close(self) -> None: ...


class _Tasks:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.gated = False
        self.made: list[_Task] = []

    async def create(self, opts: ShimOptions) -> Task:
        self.log.append("create")
        assert (opts.bundle / "config.json").is_file()  # the bundle is written first
        task = _Task(self.log, self.gated)
        self.made.append(task)
        return task

    async def connect(self, state_dir: Path) -> Task | None:
        return None

    async def reap(self, state_dir: Path) -> None: ...


class _Preparer:
    """Records its calls in the shared log; ``fail`` makes its prepare raise."""

    def __init__(self, name: str, log: list[str], fail: BaseException | None = None) -> None:
        self.name = name
        self.log = log
        self.fail = fail

    async def prepare(self, container: Container, task: Task) -> None:
        assert isinstance(task, _Task) and not task.started  # created, not started
        self.log.append(f"prepare {self.name}")
        if self.fail is not None:
            raise self.fail

    async def release(self, container: Container) -> None:
        self.log.append(f"release {self.name}")


class _Events(EventBus):
    def __init__(self) -> None:
        super().__init__()
        self.actions: list[str] = []

    def publish(self, event: Event) -> None:
        self.actions.append(event.action)
        super().publish(event)


def _service(tmp_path: Path, preparers: list[_Preparer], log: list[str]
             ) -> tuple[ContainerService, _Tasks, _Events]:
    (tmp_path / "rootfs").mkdir()
    tasks, events = _Tasks(log), _Events()
    service = ContainerService(
        ServiceOptions(data_root=tmp_path / "data", exec_root=tmp_path / "exec"),
        ContainerStore(ContainerRecords(Database(tmp_path / "metadata.db"))),
        StubImages(tmp_path / "rootfs"), tasks, events, preparers)  # type: ignore[arg-type]
    return service, tasks, events


SLEEPER = ContainerSpec(image="img", cmd=("sleep", "300"))


def test_prepare_runs_between_create_and_start_and_release_after_exit_and_remove(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        log: list[str] = []
        service, _, _ = _service(tmp_path, [_Preparer("net", log), _Preparer("vol", log)],
                                 log)
        c = await service.create("hooked", SLEEPER)
        await service.start(c.id)
        assert log == ["create", "prepare net", "prepare vol", "start"]
        log.clear()
        await service.kill(c.id)  # returns once the exit is recorded
        assert log == ["kill 9", "release vol", "release net"]
        assert service.get(c.id).state.status == Status.EXITED
        log.clear()
        await service.remove(c.id)
        assert log == ["release vol", "release net"]  # idempotent: whatever is left
        await service.close()

    asyncio.run(scenario())


def test_a_failing_prepare_kills_the_task_and_releases_what_was_prepared(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        log: list[str] = []
        failure = RuntimeFailure("no address left in the pool")
        service, tasks, events = _service(
            tmp_path, [_Preparer("net", log), _Preparer("vol", log, fail=failure),
                       _Preparer("never", log)], log)
        c = await service.create("unprepared", SLEEPER)
        with pytest.raises(RuntimeFailure, match="no address left"):
            await service.start(c.id)
        assert log == ["create", "prepare net", "prepare vol", "release net", "kill 9"]
        assert not tasks.made[0].started
        st = service.get(c.id).state
        assert (st.status, st.exit_code, st.error) == (
            Status.CREATED, 128, "no address left in the pool")
        assert events.actions[-1] == "die"
        await service.close()

    asyncio.run(scenario())


def test_restart_holds_the_lock_across_the_exit_it_causes(tmp_path: Path) -> None:
    """A start that comes while a restart waits for the exit it caused waits for the
    whole restart (then finds it running); the exit is recorded once, by the restart."""
    async def scenario() -> None:
        log: list[str] = []
        service, tasks, events = _service(tmp_path, [_Preparer("net", log)], log)
        c = await service.create("again", SLEEPER)
        tasks.gated = True
        await service.start(c.id)
        first = tasks.made[0]
        log.clear()
        events.actions.clear()
        restart = asyncio.create_task(service.restart(c.id, timeout=30))
        while "kill 15" not in log:  # the stop signal is on its way; no exit yet
            await asyncio.sleep(0)
        start = asyncio.create_task(service.start(c.id))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not start.done() and not restart.done()  # both wait: the lock, the exit
        first.gate.set()
        await restart
        with pytest.raises(NotModified):
            await start
        assert log == ["kill 15", "release net", "create", "prepare net", "start"]
        assert events.actions == ["kill", "die", "stop", "start", "restart"]
        st = service.get(c.id).state
        assert (st.status, st.exit_code, st.pid) == (Status.RUNNING, 0, 4242)
        for _ in range(20):  # the first monitor, let in after the restart, does nothing
            await asyncio.sleep(0)
        assert events.actions == ["kill", "die", "stop", "start", "restart"]
        assert service.get(c.id).state.status == Status.RUNNING
        tasks.made[1].gate.set()
        await service.remove(c.id, force=True)
        await service.close()

    asyncio.run(scenario())


def test_restart_refuses_a_bad_signal_before_it_stops_anything(tmp_path: Path) -> None:
    async def scenario() -> None:
        log: list[str] = []
        service, _, _ = _service(tmp_path, [], log)
        c = await service.create(None, SLEEPER)
        await service.start(c.id)
        with pytest.raises(InvalidArgument):
            await service.restart(c.id, sig="NOPE")
        assert log == ["create", "start"]
        await service.remove(c.id, force=True)
        await service.close()

    asyncio.run(scenario())
