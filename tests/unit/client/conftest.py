from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_daemon import FakeServer, serve


@pytest.fixture
def daemon(tmp_path: Path):
    server, thread = serve(str(tmp_path / "berth.sock"))
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def host(daemon: FakeServer, tmp_path: Path) -> str:
    return f"unix://{tmp_path / 'berth.sock'}"
