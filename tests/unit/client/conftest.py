from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_daemon import FakeServer, serving


@pytest.fixture
def daemon(tmp_path: Path):
    with serving(str(tmp_path / "berth.sock")) as server:
        yield server


@pytest.fixture
def host(daemon: FakeServer, tmp_path: Path) -> str:
    return f"unix://{tmp_path / 'berth.sock'}"
