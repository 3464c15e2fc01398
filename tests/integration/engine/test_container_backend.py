"""The real ContainerService and ExecService pass the backends' conformance suite (the
one the API's fakes pass: tests/unit/api/server/backend_suite.py), with busybox, shims and
the kernel; and the prepare hooks run where the life cycle promises.

The services are put together as ``daemon.serve`` does (harness.py), on one data root for
the module (busybox is bootstrapped once) and a fresh database handle, shim zygote and
service per case; every container a case leaves is force-removed after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.integration.engine.harness import OnEngineRoot, engine
from tests.unit.api.server.backend_suite import Backends, ContainerBackendSuite

from berth.engine.containers.execs import ExecService
from berth.engine.containers.model import Container, ContainerSpec
from berth.oci import spec as oci
from berth.runtime.spec import SpecOpt

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root, overlayfs and cgroups"),
]


class TestContainerService(OnEngineRoot, ContainerBackendSuite):
    @contextlib.asynccontextmanager
    async def open_backends(self) -> AsyncIterator[Backends]:
        async with engine(self.root) as e:
            execs = ExecService(e.containers, e.images)
            try:
                yield Backends(e.containers, execs, "busybox")
            finally:
                await execs.close()


class _RecordingPreparer:
    """Records each call; its spec option puts an environment variable in the process."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def check(self, spec: ContainerSpec) -> ContainerSpec:
        self.calls.append(("check", spec.image))
        return spec

    async def prepare(self, container: Container) -> list[SpecOpt]:
        self.calls.append(("prepare", container.id))

        def apply(spec: oci.Spec) -> None:
            spec["process"]["env"].append("PREPARED=yes")
        return [apply]

    async def release(self, container: Container) -> None:
        self.calls.append(("release", container.id))

    async def removed(self, container: Container, volumes: bool) -> None:
        self.calls.append(("removed", container.id))


def test_prepare_hooks_run_in_the_real_lifecycle(root: Path) -> None:
    """daemon.py passes ContainerService its prepare hooks: each create checks, each start
    prepares (its options reach the process), each exit and the removal release."""
    async def main() -> None:
        hook = _RecordingPreparer()
        async with engine(root, preparers=[hook]) as e:
            containers = e.containers
            c = await containers.create(None, ContainerSpec(image="busybox",
                                                            cmd=("sleep", "300")))
            assert hook.calls == [("check", "busybox")]
            await containers.start(c.id)
            assert hook.calls[1:] == [("prepare", c.id)]
            pid = containers.get(c.id).state.pid
            environ = Path(f"/proc/{pid}/environ")
            for _ in range(50):  # empty while the init is still inside its execve
                if environ.read_bytes():
                    break
                await asyncio.sleep(0.05)
            assert b"PREPARED=yes" in environ.read_bytes()
            await containers.restart(c.id, timeout=0)
            assert hook.calls[1:] == [("prepare", c.id), ("release", c.id), ("prepare", c.id)]
            await containers.remove(c.id, force=True)
            # exit, removal, then the record gone
            assert hook.calls[4:] == [("release", c.id), ("release", c.id), ("removed", c.id)]

    asyncio.run(asyncio.wait_for(main(), 60))
