"""Restart policy decisions, docker's backoff, and the supervisor of backoff sleeps."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from berth.engine.containers.model import Container, ContainerSpec, RestartPolicy, Status
from berth.engine.containers.restart import (
    Backoff,
    RestartSupervisor,
    should_restart,
    start_at_daemon_start,
    validate,
)
from berth.errors import InvalidArgument


def policy(name: str, count: int = 0) -> RestartPolicy:
    return RestartPolicy(name, count)


def test_backoff_doubles_to_a_minute_and_resets_after_a_long_run() -> None:
    b = Backoff()
    delays = [b.next(ran_for=0.5) for _ in range(12)]
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8]
    assert delays[-1] == 60.0 and max(delays) == 60.0
    assert b.next(ran_for=10.0) == 0.1  # ran >= 10 s: start over
    assert b.next(ran_for=9.9) == 0.2


@pytest.mark.parametrize(("name", "count", "code", "manual", "restarts", "expected"), [
    ("no", 0, 1, False, 0, False),
    ("always", 0, 0, False, 0, True),
    ("always", 0, 0, True, 9, True),
    ("unless-stopped", 0, 0, False, 0, True),
    ("unless-stopped", 0, 1, True, 0, False),
    ("on-failure", 0, 0, False, 0, False),
    ("on-failure", 0, 3, False, 100, True),  # 0: no maximum
    ("on-failure", 2, 3, False, 1, True),
    ("on-failure", 2, 3, False, 2, False),
])
def test_should_restart_is_docker_s(name: str, count: int, code: int, manual: bool,
                                    restarts: int, expected: bool) -> None:
    assert should_restart(policy(name, count), code, manual, restarts) is expected


def test_validate_uses_moby_s_words() -> None:
    validate(policy("on-failure", 3), auto_remove=False)
    validate(policy("no"), auto_remove=True)
    with pytest.raises(InvalidArgument, match="unknown policy 'sometimes'"):
        validate(policy("sometimes"), auto_remove=False)
    with pytest.raises(InvalidArgument, match="can only be used with 'on-failure'"):
        validate(policy("always", 2), auto_remove=False)
    with pytest.raises(InvalidArgument, match="cannot be negative"):
        validate(policy("on-failure", -1), auto_remove=False)
    with pytest.raises(InvalidArgument, match=r"AutoRemove.*restart policy"):
        validate(policy("always"), auto_remove=True)


def container(name: str, status: Status, manual: bool = False) -> Container:
    c = Container(id="c1", name="n", created="t",
                  spec=ContainerSpec("busybox", restart_policy=policy(name)), image_id="i",
                  path="sh", args=(), cmd=None, entrypoint=None, labels=(), env=(),
                  working_dir="/", user="", hostname="h", runtime="native", log_path="",
                  manually_stopped=manual)
    return c.with_state(status=status)


@pytest.mark.parametrize(("name", "status", "manual", "expected"), [
    ("always", Status.EXITED, True, True),  # docker: always even after a manual stop
    ("unless-stopped", Status.EXITED, False, True),
    ("unless-stopped", Status.EXITED, True, False),
    ("on-failure", Status.EXITED, False, False),
    ("no", Status.RESTARTING, False, True),  # the last daemon died inside the backoff
    ("always", Status.RUNNING, False, False),
    ("always", Status.REMOVING, False, False),
])
def test_daemon_start(name: str, status: Status, manual: bool, expected: bool) -> None:
    assert start_at_daemon_start(container(name, status, manual)) is expected


def test_old_records_load_without_the_flag() -> None:
    c = container("always", Status.EXITED)
    data = c.to_json().replace(',"manually_stopped":false', "")
    assert "manually_stopped" not in data
    assert Container.from_json(data) == dataclasses.replace(c, manually_stopped=False)


def test_supervisor_restarts_after_the_delay_and_cancel_stops_it() -> None:
    async def scenario() -> list[str]:
        started: list[str] = []

        async def restart(cid: str) -> None:
            started.append(cid)

        sup = RestartSupervisor(restart)
        sup.schedule("a", 0)
        sup.schedule("b", 3600)
        assert sup.pending("b")
        await asyncio.sleep(0.01)
        assert sup.cancel("b") and not sup.cancel("b")
        sup.schedule("c", 3600)
        await sup.close()  # the daemon exits: nothing is left running
        assert not sup.pending("c")
        return started

    assert asyncio.run(scenario()) == ["a"]


def test_supervisor_backoff_is_per_container_and_forget_resets_it() -> None:
    async def restart(cid: str) -> None:
        pass

    sup = RestartSupervisor(restart)
    assert [sup.next_delay("a", 0) for _ in range(3)] == [0.1, 0.2, 0.4]
    assert sup.next_delay("b", 0) == 0.1
    sup.forget("a")
    assert sup.next_delay("a", 0) == 0.1


def test_a_failed_restart_is_logged_not_lost(caplog: pytest.LogCaptureFixture) -> None:
    async def restart(cid: str) -> None:
        raise RuntimeError("boom")

    async def scenario() -> None:
        sup = RestartSupervisor(restart)
        sup.schedule("a", 0)
        await asyncio.sleep(0.01)
        await sup.close()

    asyncio.run(scenario())
    assert "restarting a container failed" in caplog.text
