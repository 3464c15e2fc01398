"""The engine tests' data root: one per module (harness.py's ``engine_root``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.engine.harness import engine_root


@pytest.fixture(scope="module")
def root() -> Iterator[Path]:
    """A data root holding busybox, scrubbed after the module."""
    with engine_root() as path:
        yield path
