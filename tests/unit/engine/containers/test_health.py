"""The healthcheck state machine, the probe loop against a fake exec service, and the
create-time merge with the image's HEALTHCHECK."""

from __future__ import annotations

import asyncio

import pytest

from berth.engine.containers.health import (
    DEFAULT_RETRIES,
    MAX_LOG_ENTRIES,
    HealthChecks,
    Timing,
    from_image,
    merge,
    probe_argv,
    record,
    validate,
)
from berth.engine.containers.model import (
    Container,
    ContainerSpec,
    Health,
    Healthcheck,
    HealthProbe,
)
from berth.errors import InvalidArgument

MS = 1_000_000
TIMING = Timing(interval=30, timeout=30, start_period=10, start_interval=5, retries=3)


def probe(code: int) -> HealthProbe:
    return HealthProbe(start="s", end="e", exit_code=code, output=f"out {code}")


def run(health: Health, codes: list[int], since_start: float = 60) -> Health:
    for code in codes:
        health = record(health, probe(code), TIMING, since_start)
    return health


def test_unhealthy_after_retries_failures_healthy_after_one_success() -> None:
    assert run(Health(), [1, 1]).status == "starting"
    h = run(Health(), [1, 1, 1])
    assert (h.status, h.failing_streak) == ("unhealthy", 3)
    h = run(h, [0])
    assert (h.status, h.failing_streak) == ("healthy", 0)
    assert run(h, [1, 1]).status == "healthy"  # a streak shorter than retries
    assert run(h, [1, 1, 1]).status == "unhealthy"


def test_failures_in_the_start_period_do_not_count_while_starting() -> None:
    h = run(Health(), [1, 1, 1, 1], since_start=5)
    assert (h.status, h.failing_streak) == ("starting", 0)
    h = run(run(Health(), [0]), [1], since_start=5)  # once healthy, the period is over
    assert h.failing_streak == 1


def test_log_keeps_the_last_five_probes() -> None:
    h = run(Health(), list(range(8)))
    assert len(h.log) == MAX_LOG_ENTRIES
    assert [p.exit_code for p in h.log] == [3, 4, 5, 6, 7]


def test_defaults_and_test_forms() -> None:
    t = Timing.of(Healthcheck(test=("CMD", "true")))
    assert (t.interval, t.timeout, t.start_period, t.start_interval, t.retries) == (
        30, 30, 0, 5, DEFAULT_RETRIES)
    assert probe_argv(Healthcheck(test=("CMD-SHELL", "test -f /x"))) == (
        "/bin/sh", "-c", "test -f /x")
    assert probe_argv(Healthcheck(test=("CMD", "cat", "/x"))) == ("cat", "/x")
    assert probe_argv(Healthcheck(test=("NONE",))) is None
    assert probe_argv(None) is None


def test_request_fields_override_the_image_s() -> None:
    image = from_image({"Test": ["CMD-SHELL", "img"], "Interval": 5 * 10**9, "Retries": 7})
    user = Healthcheck(interval=MS * 100)
    merged = merge(user, image)
    assert merged == Healthcheck(test=("CMD-SHELL", "img"), interval=MS * 100, retries=7)
    assert merge(None, image) == image
    assert merge(Healthcheck(test=("NONE",)), image) is not None  # --no-healthcheck wins
    assert probe_argv(merge(Healthcheck(test=("NONE",)), image)) is None
    assert from_image(None) is None


def test_validate() -> None:
    validate(Healthcheck(test=("CMD", "x"), interval=MS))
    with pytest.raises(InvalidArgument, match="Interval in Healthcheck cannot be less than 1ms"):
        validate(Healthcheck(interval=10))
    with pytest.raises(InvalidArgument, match="Retries in Healthcheck cannot be negative"):
        validate(Healthcheck(retries=-1))


class FakeExec:
    """Answers probes from a script of exit codes (the last one repeats)."""

    def __init__(self, codes: list[int]) -> None:
        self.codes = codes
        self.calls: list[tuple[str, list[str], float]] = []

    async def run_captured(self, container_ref: str, argv: list[str],
                           timeout: float) -> tuple[int, bytes]:
        self.calls.append((container_ref, argv, timeout))
        code = self.codes.pop(0) if len(self.codes) > 1 else self.codes[0]
        return code, b"x" * 5000


def container(hc: Healthcheck | None) -> Container:
    return Container(id="c1", name="n", created="t",
                     spec=ContainerSpec("busybox", healthcheck=hc), image_id="i", path="sh",
                     args=(), cmd=None, entrypoint=None, labels=(), env=(), working_dir="/",
                     user="", hostname="h", runtime="native", log_path="")


def test_loop_probes_publishes_changes_and_reports_unhealthy_after_exit() -> None:
    changes: list[str] = []
    fake = FakeExec([1, 1, 0])
    hc = Healthcheck(test=("CMD-SHELL", "test -f /tmp/ok"), interval=MS, timeout=2000 * MS,
                     retries=2)

    async def scenario() -> HealthChecks:
        checks = HealthChecks(lambda cid, h: changes.append(h.status))
        c = container(hc)
        checks.start(c)
        assert checks.current("c1") == Health("starting")
        assert checks.overlay(c).state.health == Health("starting")
        checks.set_prober(fake)  # restored before the exec service existed
        for _ in range(200):
            await asyncio.sleep(0.005)
            if changes[-1:] == ["healthy"]:
                break
        checks.stop("c1")
        await checks.close()
        return checks

    checks = asyncio.run(scenario())
    assert changes == ["unhealthy", "healthy"], (changes, checks.current("c1"))
    assert fake.calls[0] == ("c1", ["/bin/sh", "-c", "test -f /tmp/ok"], 2.0)
    h = checks.current("c1")
    assert h is not None and h.status == "unhealthy"  # stopped: docker says unhealthy
    assert [p.exit_code for p in h.log][:3] == [1, 1, 0]
    assert len(h.log[0].output) == 4096


def test_no_healthcheck_no_loop() -> None:
    async def scenario() -> None:
        checks = HealthChecks(lambda cid, h: None)
        checks.set_prober(FakeExec([0]))
        checks.start(container(Healthcheck(test=("NONE",))))
        checks.start(container(None))
        assert checks.current("c1") is None
        await checks.close()

    asyncio.run(scenario())
