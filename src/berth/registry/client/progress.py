"""Per-blob progress, reported as it happens (later rendered as docker's JSON progress)."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass


class State(enum.Enum):
    EXISTS = "Already exists"
    DOWNLOADING = "Downloading"
    DOWNLOADED = "Download complete"
    MOUNTED = "Mounted"
    PUSHING = "Pushing"
    PUSHED = "Pushed"


@dataclass(frozen=True)
class Progress:
    digest: str
    state: State
    current: int  # bytes of this blob moved so far
    total: int


ProgressCallback = Callable[[Progress], None]


def ignore(progress: Progress) -> None:
    """The default callback."""
