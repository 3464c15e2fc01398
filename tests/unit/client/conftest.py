from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_daemon import FakeServer, serving

from berth.client import Client
from berth.client.h11transport import H11Transport
from berth.client.unix import UnixSocketTransport, connect_unix


@pytest.fixture
def daemon(tmp_path: Path):
    with serving(str(tmp_path / "berth.sock")) as server:
        yield server


@pytest.fixture
def host(daemon: FakeServer, tmp_path: Path) -> str:
    return f"unix://{tmp_path / 'berth.sock'}"


@pytest.fixture(params=["unix", "h11"])
def client(request: pytest.FixtureRequest, daemon: FakeServer, host: str) -> Client:
    """A client of the fake daemon over each transport: our own HTTP/1.1 on the unix
    socket, and h11 (the tcp:// transport's HTTP) dialed to the same socket, so both pass
    the same tests."""
    if request.param == "unix":
        return Client(transport=UnixSocketTransport(host))
    path = host.removeprefix("unix://")
    return Client(transport=H11Transport(host, lambda: connect_unix(path, timeout=5)))
