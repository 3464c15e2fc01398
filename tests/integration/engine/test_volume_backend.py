"""The real VolumeService (bound to the real ContainerService with the volume preparer, as
``daemon.serve`` binds them) passes the VolumeBackend conformance suite the API's
FakeVolumes passes (tests/unit/api/server/volume_backend_suite.py): the route tests' fake
behaves like the engine. Each case gets fresh services over one data root (busybox
bootstrapped once, scrubbed after the module); test_volumes.py's engine removes whatever
containers and volumes a case leaves."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from tests.integration.engine.netengine import TAG, engine_root
from tests.integration.engine.volengine import engine
from tests.unit.api.server.volume_backend_suite import VolumeBackends, VolumeBackendSuite

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root and overlayfs"),
]


@pytest.fixture(scope="module")
def suite_root() -> Iterator[Path]:
    with engine_root() as root:
        yield root


class TestVolumeService(VolumeBackendSuite):
    @pytest.fixture(autouse=True)
    def _root(self, suite_root: Path) -> None:
        self.root = suite_root

    @contextlib.asynccontextmanager
    async def open_backends(self) -> AsyncIterator[VolumeBackends]:
        async with engine(self.root) as e:
            yield VolumeBackends(e.volumes, e.containers, "busybox", f"s{TAG}-")
