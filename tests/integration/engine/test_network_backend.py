"""The real NetworkService (bound to the real ContainerService, as ``daemon.serve`` binds
them) passes the NetworkBackend conformance suite the API's FakeNetworks passes
(tests/unit/api/server/network_backend_suite.py): the route tests' fake behaves like the
engine. Each case gets fresh services over one data root (netengine.py's, scrubbed after
the module); every container and user network a case leaves is removed after it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from tests.integration.engine.netengine import TAG, cleanup, engine, engine_root
from tests.unit.api.server.network_backend_suite import NetworkBackends, NetworkBackendSuite

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root, netns, veths, iptables"),
]


@pytest.fixture(scope="module")
def suite_root() -> Iterator[Path]:
    with engine_root() as root:
        yield root


class TestNetworkService(NetworkBackendSuite):
    @pytest.fixture(autouse=True)
    def _root(self, suite_root: Path) -> None:
        self.root = suite_root

    @contextlib.asynccontextmanager
    async def open_backends(self) -> AsyncIterator[NetworkBackends]:
        async with engine(self.root) as e:
            try:
                yield NetworkBackends(e.networks, e.containers, "busybox", f"s{TAG}-")
            finally:
                await cleanup(e)
