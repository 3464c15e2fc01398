from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.compat.daemon import Daemon

pytestmark = pytest.mark.compat


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")


@pytest.fixture(scope="session")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One berthd for the session with busybox bootstrapped."""
    _need_root()
    d = Daemon(tmp_path_factory.mktemp("berthd"))
    try:
        d.start()
        d.berth("image", "bootstrap", "busybox")
        yield d
    finally:
        d.cleanup()


@pytest.fixture
def fresh_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A berthd of a test's own, for tests that kill or restart the daemon."""
    _need_root()
    d = Daemon(tmp_path_factory.mktemp("berthd-own"))
    try:
        d.start()
        d.berth("image", "bootstrap", "busybox")
        yield d
    finally:
        d.cleanup()
