"""The conformance suite of ``ContainerBackend`` and ``ExecBackend`` (containerd's
``testsuite`` habit): the lifecycle the routes rely on, and its errors.

``test_fakes.py`` runs it against the in-memory fakes; ``tests/integration/engine``
against the real ``ContainerService``/``ExecService`` with busybox, so a fake that passes
here behaves like the engine where the route tests lean on it. A subclass provides
``open_backends``; each case runs in a loop of its own with a fresh pair of backends.

The commands are the ones the fake understands (``fakes.exit_code``): ``sleep 300`` runs
until killed and, as a PID 1, ignores SIGTERM; ``sh -c "exit N"`` exits by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from tests.unit.api.server.suite import BackendSuite

from berth.api.server.backend import ContainerBackend, ExecBackend
from berth.engine.containers.execs import ExecSpec
from berth.engine.containers.model import ContainerSpec, Status
from berth.errors import Conflict, InvalidArgument, NotFound, NotModified

KILLED = 137


@dataclass(frozen=True)
class Backends:
    containers: ContainerBackend
    execs: ExecBackend
    image: str  # an image both can create containers from (busybox for the real one)

    def sleeper(self, labels: tuple[tuple[str, str], ...] = ()) -> ContainerSpec:
        return ContainerSpec(image=self.image, cmd=("sleep", "300"), labels=labels)

    def exiting(self, code: int) -> ContainerSpec:
        return ContainerSpec(image=self.image, cmd=("sh", "-c", f"exit {code}"))


class ContainerBackendSuite(BackendSuite[Backends]):
    def test_create_records_a_created_container(self) -> None:
        async def case(b: Backends) -> None:
            c = await b.containers.create("web", b.sleeper(labels=(("a", "1"),)))
            assert (c.name, c.state.status, c.state.running) == ("web", Status.CREATED, False)
            assert (c.path, c.args, c.spec.image) == ("sleep", ("300",), b.image)
            assert ("a", "1") in c.labels
            for ref in (c.id, c.id[:12], "web", "/web"):
                assert b.containers.get(ref).id == c.id
            assert c.id in [x.id for x in b.containers.list()]
            assert b.containers.image_users(c.image_id) == [(c.id, False)]

        self.run(case)

    def test_names_are_unique_and_valid(self) -> None:
        async def case(b: Backends) -> None:
            first = await b.containers.create("one", b.sleeper())
            with pytest.raises(Conflict, match=f'"/one" is already in use by container '
                                               f'"{first.id}"'):
                await b.containers.create("one", b.sleeper())
            with pytest.raises(InvalidArgument, match="Invalid container name"):
                await b.containers.create("-bad", b.sleeper())
            random = await b.containers.create(None, b.sleeper())
            assert random.name and random.name != "one"
            assert len(b.containers.list()) == 2

        self.run(case)

    def test_unknown_references_are_not_found(self) -> None:
        async def case(b: Backends) -> None:
            with pytest.raises(NotFound, match="No such container: nosuch"):
                b.containers.get("nosuch")
            for call in (b.containers.start("nosuch"), b.containers.stop("nosuch"),
                         b.containers.kill("nosuch"), b.containers.remove("nosuch")):
                with pytest.raises(NotFound):
                    await call
            with pytest.raises(NotFound):
                await b.containers.create("other", ContainerSpec(image="nosuchimage"))
            with pytest.raises(NotFound, match="No such exec instance"):
                b.execs.get("nosuch")

        self.run(case)

    def test_start_kill_wait(self) -> None:
        async def case(b: Backends) -> None:
            c = await b.containers.create("killed", b.sleeper())
            created = b.containers.waiter(c.id)  # not running yet: answered at once
            assert await created == 0
            with pytest.raises(Conflict, match="is not running"):
                await b.containers.kill(c.id)
            await b.containers.start(c.id)
            st = b.containers.get(c.id).state
            assert (st.status, st.running) == (Status.RUNNING, True) and st.pid > 0
            with pytest.raises(NotModified):
                await b.containers.start(c.id)
            exit_ = b.containers.waiter(c.id)
            await b.containers.kill(c.id, "SIGKILL")
            assert await exit_ == KILLED
            st = b.containers.get(c.id).state
            assert (st.status, st.exit_code, st.running) == (Status.EXITED, KILLED, False)
            assert await b.containers.waiter(c.id) == KILLED
            with pytest.raises(NotModified):
                await b.containers.stop(c.id)
            with pytest.raises(InvalidArgument):
                b.containers.waiter(c.id, "whenever")

        self.run(case)

    def test_an_exit_wakes_a_wait_registered_before_start(self) -> None:
        async def case(b: Backends) -> None:
            c = await b.containers.create(None, b.exiting(3))
            fut = b.containers.waiter(c.id, "next-exit")
            await b.containers.start(c.id)
            assert await fut == 3
            st = b.containers.get(c.id).state
            assert (st.status, st.exit_code) == (Status.EXITED, 3)
            await b.containers.start(c.id)  # an exited container starts again
            assert await b.containers.waiter(c.id) == 3  # running or exited by now

        self.run(case)

    def test_stop_ends_in_sigkill_for_a_pid_1_that_ignores_sigterm(self) -> None:
        async def case(b: Backends) -> None:
            c = await b.containers.create(None, b.sleeper())
            await b.containers.start(c.id)
            await b.containers.stop(c.id, timeout=0)
            st = b.containers.get(c.id).state
            assert (st.status, st.exit_code) == (Status.EXITED, KILLED)

        self.run(case)

    def test_restart_stops_then_starts_in_one_operation(self) -> None:
        async def case(b: Backends) -> None:
            c = await b.containers.create("again", b.sleeper())
            await b.containers.restart(c.id, timeout=0)  # not running: just started
            first = b.containers.get(c.id).state
            assert first.status == Status.RUNNING
            exit_ = b.containers.waiter(c.id, "next-exit")
            await b.containers.restart(c.id, timeout=0)  # the stop's grace ends in SIGKILL
            assert await exit_ == KILLED
            st = b.containers.get(c.id).state
            assert (st.status, st.exit_code) == (Status.RUNNING, 0)
            assert st.started_at >= first.started_at
            assert b.containers.get(c.id).restart_count == 0
            with pytest.raises(InvalidArgument, match="Invalid signal"):
                await b.containers.restart(c.id, sig="BOGUS")
            with pytest.raises(NotFound):
                await b.containers.restart("nosuch")

        self.run(case)

    def test_restart_keeps_an_auto_remove_container(self) -> None:
        """docker's restart of a --rm container: its exit is the restart's, so it is not
        removed (moby's HasBeenManuallyRestarted)."""
        async def case(b: Backends) -> None:
            spec = replace(b.sleeper(), auto_remove=True)
            c = await b.containers.create(None, spec)
            await b.containers.start(c.id)
            await b.containers.restart(c.id, timeout=0)
            assert b.containers.get(c.id).state.status == Status.RUNNING
            removed = b.containers.waiter(c.id, "removed")
            await b.containers.kill(c.id)  # an exit of its own: auto-removed
            assert await removed == KILLED

        self.run(case)

    def test_remove_refuses_a_running_container_unless_forced(self) -> None:
        async def case(b: Backends) -> None:
            c = await b.containers.create("rm", b.sleeper())
            await b.containers.start(c.id)
            with pytest.raises(Conflict, match="container is running"):
                await b.containers.remove(c.id)
            removed = b.containers.waiter(c.id, "removed")
            await b.containers.remove(c.id, force=True)
            assert await removed == KILLED
            with pytest.raises(NotFound):
                b.containers.get(c.id)
            again = await b.containers.create("rm", b.sleeper())  # the name is free again
            await b.containers.remove(again.id)
            assert b.containers.list() == []

        self.run(case)

    def test_exec_lifecycle(self) -> None:
        async def case(b: Backends) -> None:
            c = await b.containers.create(None, b.sleeper())
            with pytest.raises(Conflict, match="is not running"):
                await b.execs.create(c.id, ExecSpec(cmd=("true",)))
            await b.containers.start(c.id)
            with pytest.raises(InvalidArgument):
                await b.execs.create(c.id, ExecSpec(cmd=()))
            rec = await b.execs.create(c.id, ExecSpec(cmd=("sh", "-c", "exit 5")))
            got = b.execs.get(rec.id)
            assert (got.container_id, got.running, got.exit_code) == (c.id, False, None)
            assert b.execs.ids_for(c.id) == [rec.id]
            assert await b.execs.start(rec.id, attach=False) is None
            assert await b.execs.exited(rec.id) == 5
            got = b.execs.get(rec.id)
            assert (got.running, got.exit_code) == (False, 5)
            with pytest.raises(Conflict, match="has already run"):
                b.execs.check_startable(got)
            await b.containers.kill(c.id)
            with pytest.raises(NotFound):  # execs belong to one run of their container
                b.execs.get(rec.id)

        self.run(case)
