"""`make demo` installs only what running berth needs; the test peers come with `make test`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PEERS = ("docker.io", "docker-compose", "skopeo", "docker-registry", "apache2-utils")


def _dry_run(target: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    return subprocess.run(["make", "-n", "-B", target], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout


def test_demo_installs_no_test_peers() -> None:
    demo = _dry_run("demo")
    assert "busybox-static" in demo and "'.[test]'" not in demo
    for peer in PEERS:
        assert peer not in demo.split(), peer


def test_the_test_command_installs_the_peers() -> None:
    test = _dry_run("test")
    for peer in PEERS:
        assert peer in test, peer
    assert "'.[test]'" in test
