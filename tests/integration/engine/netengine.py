"""The real NetworkService and ContainerService put together as ``daemon.serve`` does, for
the engine's networking tests: harness.py's engine with networking, whose containers stay
when it closes (``cleanup`` removes them), so a later engine over the same database sees
them.

Every host-global name is this run's own (harness.py); ``scrub`` removes whatever a failed
case left.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path

from tests.integration.engine import harness
from tests.integration.engine.harness import (
    BRIDGE,
    CHAINS,
    TAG,
    Engine,
    cleanup,
    engine_root,
    images_of,
    scrub,
)

__all__ = ["BRIDGE", "CHAINS", "TAG", "Engine", "cleanup", "engine", "engine_root",
           "images_of", "scrub"]


def engine(root: Path) -> AbstractAsyncContextManager[Engine]:
    return harness.engine(root, networking=True, keep=True)
