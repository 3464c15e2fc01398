"""What the builder needs from the image store: narrow roles, not the ``ImageService``
(moby's ``builder.Backend``). The builder and its committer hold these Protocols and
reach no further; ``images.service.ImageService`` satisfies them structurally (mypy checks
the fit where ``daemon.py`` hands it to the ``Builder``)::

    builder.py, dispatcher.py ──▶ ImageProvider   get, pull, locked (async)
    commit.py, executor.py ─────▶ LayerCommitter  commit a directory as a layer, write an
                                                  image, tag, scratch/RUN snapshots
    cache.py ───────────────────▶ ImageLookup     images, their children, blobs, layers

The blocking methods run in a worker thread; every write (``LayerCommitter``'s own
methods) runs inside ``ImageProvider.locked``, so garbage collection never sees a
half-made layer or image. Reads (``ImageLookup``) need no lock: an image the builder
holds is one a build step made or ``get`` just returned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol, TypeVar

from berth.engine.images.image import Image
from berth.engine.images.pull import PullCallback
from berth.engine.images.service import PullResult
from berth.oci.image import Descriptor, ImageConfig
from berth.oci.mount import Mount
from berth.oci.reference import Reference
from berth.store.metadata.images import ImageRecord, LayerRecord

T = TypeVar("T")


class ImageLookup(Protocol):
    """Reading the store (blocking)."""

    def image_record(self, image_id: str) -> ImageRecord | None: ...

    def image_children(self, image_id: str) -> list[str]:
        """The images whose ``parent`` is ``image_id`` (build steps made on it)."""
        ...

    def read_blob(self, digest: str) -> bytes: ...

    def layer(self, chain_id: str) -> LayerRecord | None: ...

    def snapshot_mounts(self, key: str) -> list[Mount]:
        """The mounts of snapshot ``key``, never performed (a LayerTree's input)."""
        ...


class LayerCommitter(ImageLookup, Protocol):
    """Making layers and images (blocking; only inside ``ImageProvider.locked``)."""

    @property
    def changes_only(self) -> bool:
        """Whether a snapshot's writable directory holds only its changes (overlay),
        the one kind a build step can be diffed from."""
        ...

    def commit_layer(self, upper: Path, parent: LayerRecord | None
                     ) -> tuple[LayerRecord, Descriptor]:
        """The tar diff of ``upper`` (an overlay upper directory) stored as a blob and
        unpacked once onto ``parent``: the layer and its descriptor."""
        ...

    def create_image(self, config: ImageConfig, blobs: list[Descriptor],
                     layers: list[LayerRecord], tags: Iterable[Reference],
                     parent: str = "") -> ImageRecord: ...

    def set_tag(self, ref: Reference, image_id: str) -> None: ...

    def prepare_snapshot(self, key: str, parent: str | None) -> Path:
        """A writable snapshot ``key`` on committed snapshot ``parent``; its directory."""
        ...

    def writable_path(self, key: str) -> Path: ...

    def remove_snapshot(self, key: str) -> None:
        """Remove snapshot ``key``; one already gone is no error."""
        ...


class ImageProvider(LayerCommitter, Protocol):
    """The image service as a build sees it."""

    async def get(self, ref_or_id: str) -> Image: ...

    async def pull(self, name: str, progress: PullCallback | None = None) -> PullResult: ...

    async def locked(self, change: Callable[[], T]) -> T:
        """Run ``change`` in a thread under the store's write lock."""
        ...
