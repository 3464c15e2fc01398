from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat.daemon import Daemon

pytestmark = pytest.mark.compat


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")


def _short_tmp() -> Path:
    """Unix socket paths are limited to 108 bytes and the shim's sockets live under
    <exec-root>/containers/<64 hex>/, so the test roots must be short."""
    return Path(tempfile.mkdtemp(prefix="b", dir="/tmp"))


@pytest.fixture(scope="session")
def daemon() -> Iterator[Daemon]:
    """One berthd for the session with busybox bootstrapped."""
    _need_root()
    d = Daemon(_short_tmp())
    try:
        d.start()
        d.berth("image", "bootstrap", "busybox")
        yield d
    finally:
        d.cleanup()


@pytest.fixture
def fresh_daemon() -> Iterator[Daemon]:
    """A berthd of a test's own, for tests that kill or restart the daemon."""
    _need_root()
    d = Daemon(_short_tmp())
    try:
        d.start()
        d.berth("image", "bootstrap", "busybox")
        yield d
    finally:
        d.cleanup()
