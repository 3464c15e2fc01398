"""The in-memory fakes pass the backends' conformance suites (the real services pass them
in tests/integration/engine/test_container_backend.py and
tests/unit/engine/images/test_image_backend.py)."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator

import pytest
from tests.unit.api.server.backend_suite import Backends, ContainerBackendSuite
from tests.unit.api.server.fakes import (
    FakeContainerAdmin,
    FakeContainerBackend,
    FakeExecBackend,
    FakeImageBackend,
)
from tests.unit.api.server.image_backend_suite import ImageBackendSuite, Images
from tests.unit.api.server.network_backend_suite import NetworkBackends, NetworkBackendSuite
from tests.unit.api.server.network_fakes import FakeNetworks
from tests.unit.api.server.volume_backend_suite import VolumeBackends, VolumeBackendSuite
from tests.unit.api.server.volume_fakes import FakeVolumes

from berth.api.server.backend import (
    ContainerAdminBackend,
    ContainerBackend,
    ExecBackend,
    ImageBackend,
    NetworkBackend,
    VolumeBackend,
)
from berth.engine.images.image import Image


class TestFakeBackends(ContainerBackendSuite):
    @contextlib.asynccontextmanager
    async def open_backends(self) -> AsyncIterator[Backends]:
        images = FakeImageBackend()
        images.add("busybox")
        containers = FakeContainerBackend(images)
        yield Backends(containers, FakeExecBackend(containers), "busybox")


class TestFakeImageBackend(ImageBackendSuite):
    @contextlib.asynccontextmanager
    async def open_images(self) -> AsyncIterator[Images]:
        images = FakeImageBackend()

        async def add(name: str, labels: dict[str, str] | None = None) -> Image:
            return images.add(name, labels=labels)

        yield Images(images, add)


class TestFakeNetworks(NetworkBackendSuite):
    @contextlib.asynccontextmanager
    async def open_backends(self) -> AsyncIterator[NetworkBackends]:
        images = FakeImageBackend()
        images.add("busybox")
        containers = FakeContainerBackend(images)
        yield NetworkBackends(FakeNetworks(containers), containers, "busybox", "suite-")


class TestFakeVolumes(VolumeBackendSuite):
    @contextlib.asynccontextmanager
    async def open_backends(self) -> AsyncIterator[VolumeBackends]:
        images = FakeImageBackend()
        images.add("busybox")
        containers = FakeContainerBackend(images)
        yield VolumeBackends(FakeVolumes(containers), containers, "busybox", "suite-")


def _members(protocol: type) -> list[str]:
    return [name for name in vars(protocol) if not name.startswith("_")]


@pytest.mark.parametrize(("protocol", "fake"), [
    (ContainerBackend, FakeContainerBackend), (ContainerAdminBackend, FakeContainerAdmin),
    (ExecBackend, FakeExecBackend), (ImageBackend, FakeImageBackend),
    (NetworkBackend, FakeNetworks), (VolumeBackend, FakeVolumes)])
def test_each_fake_has_every_member_of_its_protocol(protocol: type, fake: type) -> None:
    """A cheap guard between mypy runs (mypy checks src/ only): every method with the
    protocol's parameters, in order. The real services' fit is checked by mypy in
    daemon.py."""
    for name in _members(protocol):
        wanted = getattr(protocol, name)
        if isinstance(wanted, property):
            continue  # registries, contexts: plain attributes on the implementations
        got = getattr(fake, name, None)
        assert got is not None, f"{fake.__name__} lacks {name}"
        params = list(inspect.signature(wanted).parameters)
        assert list(inspect.signature(got).parameters)[:len(params)] == params, name
