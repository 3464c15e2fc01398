from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "client"))

from fake_daemon import FakeServer, serving

from berth.cli.main import main


@pytest.fixture
def daemon(tmp_path: Path):
    with serving(str(tmp_path / "berth.sock")) as server:
        yield server


@pytest.fixture
def berth(daemon: FakeServer, tmp_path: Path, capsysbinary):
    """Run the CLI against the fake daemon: returns (exit code, stdout, stderr)."""
    env = {"BERTH_HOST": f"unix://{tmp_path / 'berth.sock'}"}

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv), env)
        out, err = capsysbinary.readouterr()
        return code, out.decode(), err.decode()

    return invoke
