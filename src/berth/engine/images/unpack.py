"""Unpacking a pulled image's layers into the snapshots of its stack.

On a ``changes_only`` snapshotter (overlay) a layer's own directory does not depend on the
layers below it, so each layer the store lacks is applied to a snapshot of its own, on
nothing (``ImageWriter.extract``), as soon as its blob is in the content store, while the
other blobs still download; at most ``limit`` at a time (gunzip, sha256 and the writes
leave the GIL, so the cores share the work). Once everything is fetched, under the image
service's lock, the layers are committed bottom up, each put on the one below
(``adopt``)::

    fetch:    config ─▶ L1 landed ─▶ extract L1      L2 landed ─▶ extract L2 ...
    stack:    L0 (had) ◀── adopt L1 ◀── adopt L2 ◀── adopt L3      (in order, locked)

On the native snapshotter a layer is applied to a copy of the tree below it: one after
another, at stacking time (``ImageWriter.unpack``). Either way a layer whose chain id is
already there is not unpacked again, and a failure leaves no snapshot behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from berth.errors import BerthError
from berth.store.content import ContentStore
from berth.store.metadata.images import LayerRecord
from berth.store.snapshots import Kind

from .pull import Fetched, diff_ids
from .writer import Extracted, ImageWriter, next_chain_id


@dataclass(frozen=True)
class LayerBlob:
    digest: str
    diff_id: str
    media_type: str | None = None


class StackUnpacker:
    """The layers of one image: extracted early (:meth:`landed`), stacked at the end
    (:meth:`stack`), or dropped (:meth:`abort`)."""

    def __init__(self, writer: ImageWriter, limit: asyncio.Semaphore) -> None:
        self.writer = writer
        self.limit = limit
        self.blobs: list[LayerBlob] = []
        self._early = writer.snapshotter.changes_only
        self._have = 0  # bottom layers the store had when the blobs became known
        self._landed: set[str] = set()
        self._tasks: dict[int, asyncio.Future[Extracted]] = {}
        self._planning: asyncio.Future[int] | None = None
        self._closed = False

    def fetched_config(self, fetched: Fetched) -> None:
        """The image's config is in the store: learn its layers and find, off the event
        loop, which of them the store has already."""
        if self._early:
            self._planning = asyncio.ensure_future(asyncio.to_thread(self._plan, fetched))
            self._planning.add_done_callback(self._planned)

    def _plan(self, fetched: Fetched) -> int:
        self.blobs = layer_blobs(self.writer.content, fetched)
        return len(_present(self.writer, self.blobs))

    def landed(self, digest: str) -> None:
        """Blob ``digest`` is in the content store, verified: start unpacking it."""
        self._landed.add(digest)
        if self._planning is not None and self._planning.done() \
                and not self._planning.exception():
            self._start(lambda blob: blob.digest == digest)

    def _planned(self, planning: asyncio.Future[int]) -> None:
        if not planning.cancelled() and planning.exception() is None:
            self._have = planning.result()
            self._start(lambda blob: blob.digest in self._landed)

    def _start(self, wanted: Callable[[LayerBlob], bool]) -> None:
        if self._closed:
            return  # aborted: a late planning callback starts nothing
        for i, blob in enumerate(self.blobs):
            if i >= self._have and i not in self._tasks and wanted(blob):
                self._tasks[i] = asyncio.ensure_future(self._extract(blob))

    async def _extract(self, blob: LayerBlob) -> Extracted:
        async with self.limit:
            return await asyncio.to_thread(self.writer.extract, blob.digest, blob.media_type)

    async def stack(self, blobs: list[LayerBlob], done: Callable[[int], None]
                    ) -> list[LayerRecord]:
        """The layer records of ``blobs``, bottom first (call under the service's lock,
        every blob in the store); ``done(i)`` once layer ``i`` is in the store."""
        try:
            if self._planning is not None:
                await asyncio.shield(self._planning)
            if blobs != self.blobs:  # not planned early (or, never, another config)
                await self.abort()
                self.blobs, self._closed = blobs, False
            if not self._early:
                return await _one_by_one(self.writer, self.blobs, done)
            layers = await asyncio.to_thread(_present, self.writer, self.blobs)
            for i in range(len(layers)):
                done(i)
            self._have = len(layers)
            self._start(lambda blob: True)
            parent = layers[-1] if layers else None
            for i in range(len(layers), len(self.blobs)):
                extracted = await asyncio.shield(self._tasks[i])
                parent = await asyncio.to_thread(self.writer.adopt, extracted, parent,
                                                 self.blobs[i].diff_id)
                layers.append(parent)
                done(i)
            return layers
        finally:  # extractions never adopted: a failure, or layers the store got meanwhile
            await self.abort()

    async def abort(self) -> None:
        """Drop whatever was extracted and not stacked. Waits for running extractions (a
        thread cannot be cut short)."""
        self._closed = True
        if self._planning is not None:
            self._planning.cancel()
        while self._tasks:
            _, task = self._tasks.popitem()
            try:
                extracted = await asyncio.shield(task)
            except BaseException:  # its own failure removed its snapshot
                continue
            try:
                info = await asyncio.to_thread(self.writer.snapshotter.stat, extracted.key)
            except BerthError:
                continue  # committed (renamed to its chain id) or already dropped
            if info.kind is Kind.ACTIVE:
                await asyncio.to_thread(self.writer.discard, extracted)


def layer_blobs(content: ContentStore, fetched: Fetched) -> list[LayerBlob]:
    """The pulled image's layers with the diff_ids its config gives them."""
    return [LayerBlob(b.digest, d, b.media_type)
            for b, d in zip(fetched.layers, diff_ids(content, fetched), strict=True)]


def _present(writer: ImageWriter, blobs: list[LayerBlob]) -> list[LayerRecord]:
    """The bottom layers of the stack that the store has already (a chain id names its
    whole stack, so they are a prefix)."""
    found: list[LayerRecord] = []
    chain: str | None = None
    for blob in blobs:
        chain = next_chain_id(chain, blob.diff_id)
        layer = writer.images.get_layer(chain)
        if layer is None:
            break
        found.append(layer)
    return found


async def _one_by_one(writer: ImageWriter, blobs: list[LayerBlob],
                      done: Callable[[int], None]) -> list[LayerRecord]:
    layers: list[LayerRecord] = []
    parent = None
    for i, blob in enumerate(blobs):
        parent = await asyncio.to_thread(writer.unpack, blob.digest, parent, blob.diff_id,
                                         blob.media_type)
        layers.append(parent)
        done(i)
    return layers
