"""Every HTTP test runs against each storage driver: one suite, two implementations."""

from __future__ import annotations

import pytest
from tests.unit.registry.server.harness import Client, ServerThread

from berth.registry.server import RegistryOptions, create_app
from berth.registry.server.storage import StorageDriver, open_driver

DRIVERS = ("filesystem", "inmemory")


@pytest.fixture(params=DRIVERS)
def driver(request, tmp_path) -> StorageDriver:
    return open_driver(request.param, str(tmp_path / "registry"))


@pytest.fixture
def serve(driver):
    """``serve(options)`` starts a server on the test's driver and returns its client."""
    servers: list[ServerThread] = []

    def start(options: RegistryOptions | None = None, **client_kw) -> Client:
        server = ServerThread(create_app(driver, options), client_kw.pop("ssl_context", None))
        servers.append(server)
        return Client(server.start(), **client_kw)

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def client(serve) -> Client:
    return serve()
