from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat.daemon import Daemon

pytestmark = pytest.mark.compat


@contextlib.contextmanager
def _running_daemon() -> Iterator[Daemon]:
    """A berthd with busybox bootstrapped, removed with everything it made afterwards.

    Unix socket paths are limited to 108 bytes and the shim's sockets live under
    <exec-root>/containers/<64 hex>/, so the root is a short directory under /tmp."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    d = Daemon(Path(tempfile.mkdtemp(prefix="b", dir="/tmp")))
    try:
        d.start()
        d.berth("image", "bootstrap", "busybox")
        yield d
    finally:
        d.cleanup()


@pytest.fixture(scope="session")
def daemon() -> Iterator[Daemon]:
    """One berthd for the session."""
    with _running_daemon() as d:
        yield d


@pytest.fixture
def fresh_daemon() -> Iterator[Daemon]:
    """A berthd of a test's own, for tests that kill or restart the daemon."""
    with _running_daemon() as d:
        yield d
