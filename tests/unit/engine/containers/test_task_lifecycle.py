"""The service's life cycle over fake tasks: where the prepare hooks run, and a restart
that holds the container's lock across the exit it causes.

The service runs for real over a SQLite store and writes real bundles (a rootfs of one
bind); the tasks are the shared fakes (tests/unit/runtime/fakes.py), which log what is
asked of them and exit as the shim's would, a ``gated`` one once the test opens its gate.
Nothing sleeps.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from tests.unit.engine.containers.stubs import StubImages
from tests.unit.runtime.fakes import TERM_HANDLER, FakeTaskManager

from berth.engine.containers.model import Container, ContainerSpec, Status
from berth.engine.containers.service import ContainerService, ServiceOptions
from berth.engine.containers.store import ContainerStore
from berth.engine.events import Event, EventBus
from berth.errors import InvalidArgument, NotModified, RuntimeFailure
from berth.runtime import spec as runtime_spec
from berth.runtime.spec import SpecOpt
from berth.store.metadata.containers import ContainerRecords
from berth.store.metadata.db import Database


class _Preparer:
    """Records its calls in the shared log; ``fail`` makes its prepare raise."""

    def __init__(self, name: str, log: list[str], fail: BaseException | None = None) -> None:
        self.name = name
        self.log = log
        self.fail = fail

    async def check(self, spec: ContainerSpec) -> ContainerSpec:
        self.log.append(f"check {self.name}")
        return spec

    async def prepare(self, container: Container) -> list[SpecOpt]:
        self.log.append(f"prepare {self.name}")
        if self.fail is not None:
            raise self.fail
        return [runtime_spec.with_hostname(f"by-{self.name}")]

    async def release(self, container: Container) -> None:
        self.log.append(f"release {self.name}")

    async def removed(self, container: Container, volumes: bool) -> None:
        self.log.append(f"removed {self.name}")


class _Events(EventBus):
    def __init__(self) -> None:
        super().__init__()
        self.actions: list[str] = []

    def publish(self, event: Event) -> None:
        self.actions.append(event.action)
        super().publish(event)


def _service(tmp_path: Path, preparers: list[_Preparer], log: list[str]
             ) -> tuple[ContainerService, FakeTaskManager, _Events]:
    (tmp_path / "rootfs").mkdir()
    tasks, events = FakeTaskManager(log), _Events()
    service = ContainerService(
        ServiceOptions(data_root=tmp_path / "data", exec_root=tmp_path / "exec"),
        ContainerStore(ContainerRecords(Database(tmp_path / "metadata.db"))),
        StubImages(tmp_path / "rootfs"), tasks, events, preparers)  # type: ignore[arg-type]
    return service, tasks, events


SLEEPER = ContainerSpec(image="img", cmd=("sleep", "300"))  # only SIGKILL ends it
STOPPABLE = ContainerSpec(image="img", cmd=TERM_HANDLER)  # SIGTERM ends it too


def test_prepare_runs_between_create_and_start_and_release_after_exit_and_remove(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        log: list[str] = []
        service, _, _ = _service(tmp_path, [_Preparer("net", log), _Preparer("vol", log)],
                                 log)
        c = await service.create("hooked", SLEEPER)
        assert log == ["check net", "check vol"]
        log.clear()
        await service.start(c.id)
        assert log == ["prepare net", "prepare vol", "create", "start"]
        config = json.loads((tmp_path / "exec" / "containers" / c.id / "config.json")
                            .read_text())
        assert config["hostname"] == "by-vol"  # the hooks' options apply last, in order
        log.clear()
        await service.kill(c.id)  # returns once the exit is recorded
        assert log == ["kill 9", "release vol", "release net"]
        assert service.get(c.id).state.status == Status.EXITED
        log.clear()
        await service.remove(c.id)
        # idempotent release of whatever is left, then removed once the record is gone
        assert log == ["release vol", "release net", "removed vol", "removed net"]
        await service.close()

    asyncio.run(scenario())


def test_a_failing_prepare_releases_what_was_prepared_and_makes_no_task(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        log: list[str] = []
        failure = RuntimeFailure("no address left in the pool")
        service, tasks, events = _service(
            tmp_path, [_Preparer("net", log), _Preparer("vol", log, fail=failure),
                       _Preparer("never", log)], log)
        c = await service.create("unprepared", SLEEPER)
        log.clear()
        with pytest.raises(RuntimeFailure, match="no address left"):
            await service.start(c.id)
        assert log == ["prepare net", "prepare vol", "release net"]
        assert not tasks.made
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
        c = await service.create("again", STOPPABLE)
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
        first.open_gate()
        await restart
        with pytest.raises(NotModified):
            await start
        assert log == ["kill 15", "release net", "prepare net", "create", "start"]
        assert events.actions == ["kill", "die", "stop", "start", "restart"]
        st = service.get(c.id).state
        assert (st.status, st.exit_code, st.pid) == (Status.RUNNING, 0,
                                                     tasks.made[1].init_pid)
        for _ in range(20):  # the first monitor, let in after the restart, does nothing
            await asyncio.sleep(0)
        assert events.actions == ["kill", "die", "stop", "start", "restart"]
        assert service.get(c.id).state.status == Status.RUNNING
        tasks.made[1].open_gate()
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
