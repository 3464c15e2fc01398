"""The real NetworkService and VolumeService (each bound to the real ContainerService with
its preparer, as ``daemon.serve`` binds them) pass the conformance suites the API's
FakeNetworks and FakeVolumes pass (tests/unit/api/server/network_backend_suite.py,
volume_backend_suite.py): the route tests' fakes behave like the engine. Each case gets
fresh services over one data root (conftest.py's, scrubbed after the module); the engine
removes every container, volume and user network a case leaves.

The container and exec services' suite runs in test_container_backend.py."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

import pytest
from tests.integration.engine.harness import TAG, OnEngineRoot, engine
from tests.unit.api.server.network_backend_suite import NetworkBackends, NetworkBackendSuite
from tests.unit.api.server.volume_backend_suite import VolumeBackends, VolumeBackendSuite

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root, overlayfs, netns, veths, "
                                                 "iptables"),
]


class TestNetworkService(OnEngineRoot, NetworkBackendSuite):
    @contextlib.asynccontextmanager
    async def open_backends(self) -> AsyncIterator[NetworkBackends]:
        async with engine(self.root, networking=True) as e:
            yield NetworkBackends(e.networks, e.containers, "busybox", f"s{TAG}-")


class TestVolumeService(OnEngineRoot, VolumeBackendSuite):
    @contextlib.asynccontextmanager
    async def open_backends(self) -> AsyncIterator[VolumeBackends]:
        async with engine(self.root, volumes=True) as e:
            yield VolumeBackends(e.volumes, e.containers, "busybox", f"s{TAG}-")
