"""What every bootstrapped base image has in common: a recipe builds a root filesystem and
writes it as one uncompressed layer; ``bootstrap.py`` turns that layer into an image.

    recipe.build(progress)      async, outside the image service's lock: the slow part
      └─ LayerSource.write(w)   in a thread, under the lock: the layer tar into the
                                content store, then unpack + config + tag (bootstrap.py)

A recipe's layer is deterministic where its inputs are: entries in name order, numeric
owners, mtimes clamped to ``BaseLayer.mtime``, so the same inputs give the same diff_id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

# One status line for the client ("Retrieving bash 5.2.15-2+b13").
BootstrapProgress = Callable[[str], Awaitable[None]]


class Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


@dataclass(frozen=True)
class BaseLayer:
    """What a written layer says about itself, for the image config."""

    mtime: int  # every entry's mtime is at most this; the image's ``created``
    cmd: tuple[str, ...]
    created_by: str  # the history entry


class LayerSource(Protocol):
    def write(self, out: Writable) -> BaseLayer:
        """Write the layer (an uncompressed tar) to ``out``; blocking."""
        ...


class Recipe(Protocol):
    def build(self, progress: BootstrapProgress) -> AbstractAsyncContextManager[LayerSource]:
        """Check the inputs (raising before the first progress line), build, and yield the
        layer source; leaving the context removes whatever the build left behind."""
        ...
