"""The real aiohttp routes over the in-memory fakes: ``with_api`` turns an ``async def
test(api)`` into a plain test that gets a TestClient of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from tests.unit.api.server.fakes import (
    FakeContainerAdmin,
    FakeContainerBackend,
    FakeExecBackend,
    FakeImageBackend,
)
from tests.unit.api.server.network_fakes import FakeNetworks
from tests.unit.api.server.volume_fakes import FakeVolumes

from berth.api.server.app import make_app
from berth.api.server.containers import ContainerRoutes
from berth.api.server.execs import ExecRoutes
from berth.api.server.images import ImageRoutes
from berth.api.server.networks import NetworkRoutes
from berth.api.server.volumes import VolumeRoutes

DATA_ROOT = "/var/lib/berth"


@dataclass(frozen=True)
class Api:
    client: TestClient[web.Request, web.Application]
    images: FakeImageBackend
    containers: FakeContainerBackend
    execs: FakeExecBackend
    networks: FakeNetworks
    volumes: FakeVolumes

    async def create(self, name: str = "", **body: object) -> str:
        """A container made through the route; its id."""
        resp = await self.client.post("/containers/create", params={"name": name} if name
                                      else {}, json={"Image": "busybox", **body})
        assert resp.status == 201, await resp.text()
        return str((await resp.json())["Id"])


def with_api(test: Callable[[Api], Awaitable[None]]) -> Callable[[], None]:
    def run() -> None:
        async def main() -> None:
            images = FakeImageBackend()
            images.add("busybox", labels={"from": "image"})
            containers = FakeContainerBackend(images, data_root=DATA_ROOT)
            execs = FakeExecBackend(containers)
            networks = FakeNetworks(containers)
            volumes = FakeVolumes(containers, DATA_ROOT)
            app = make_app([
                ContainerRoutes(containers, execs, FakeContainerAdmin(containers),
                                DATA_ROOT, "native", networks, volumes).register,
                ExecRoutes(execs).register,
                ImageRoutes(images, containers, "native").register,
                NetworkRoutes(networks, containers).register,
                VolumeRoutes(volumes, containers).register,
            ])
            async with TestClient(TestServer(app)) as client:
                await test(Api(client, images, containers, execs, networks, volumes))

        asyncio.run(main())

    run.__doc__ = test.__doc__
    return run
