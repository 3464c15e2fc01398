"""The fake tasks pass the Task conformance suite (the shim client passes it in
tests/integration/shim/test_task_conformance.py)."""

from __future__ import annotations

import contextlib
import inspect
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.unit.runtime.fakes import FakeTask, FakeTaskManager
from tests.unit.runtime.task_suite import OpenTasks, Tasks, TaskSuite

from berth.runtime.shim import ShimOptions
from berth.runtime.task import Task, TaskManager


def fake_options(root: Path, argv: tuple[str, ...]) -> ShimOptions:
    """A bundle holding only the config.json the fake reads."""
    cid = f"c{len(list(root.glob('*')))}"
    bundle = root / cid
    bundle.mkdir(parents=True)
    (bundle / "config.json").write_text(json.dumps({"process": {"args": list(argv)}}))
    return ShimOptions(container_id=cid, bundle=bundle, rootfs_mounts=(),
                       state_dir=bundle, log_path=None, runtime="fake")


async def _nothing(task: Task) -> None:
    return None


@pytest.fixture
def open_tasks(tmp_path: Path) -> OpenTasks:
    @contextlib.asynccontextmanager
    async def open_fake() -> AsyncIterator[Tasks]:
        yield Tasks(FakeTaskManager(), lambda argv: fake_options(tmp_path, argv),
                    term_handled=_nothing, settle=0)

    return open_fake


class TestFakeTasks(TaskSuite):
    pass


@pytest.mark.parametrize(("protocol", "fake"), [(Task, FakeTask),
                                                (TaskManager, FakeTaskManager)])
def test_each_fake_has_every_member_of_its_protocol(protocol: type, fake: type) -> None:
    """A cheap guard between mypy runs (mypy checks src/ only): every method with the
    protocol's parameters, in order; the shim client's fit is checked by mypy."""
    for name in (n for n in vars(protocol) if not n.startswith("_")):
        wanted = getattr(protocol, name)
        if isinstance(wanted, property):
            assert name in inspect.signature(fake).parameters  # a plain attribute
            continue
        assert inspect.iscoroutinefunction(getattr(fake, name)), name
        params = list(inspect.signature(wanted).parameters)
        assert list(inspect.signature(getattr(fake, name)).parameters) == params, name
