"""Unpacking a pulled image's layers into the snapshots of its stack.

On a ``changes_only`` snapshotter (overlay) a layer's own directory does not depend on the
layers below it, so the layers the store lacks are applied side by side, each to a
snapshot on nothing (``ImageWriter.extract``, at most ``limit`` at a time: gunzip, sha256
and the writes leave the GIL, so the cores share the work), then committed bottom up,
each put on the one below (``adopt``)::

    layers:   L0 (have)   L1 ─extract─┐   L2 ─extract─┐   L3 ─extract─┐   (concurrently)
    stack:    L0 ◀──────── adopt L1 ◀─┴──── adopt L2 ◀─┴──── adopt L3 ◀─┘   (in order)

On the native snapshotter a layer is applied to a copy of the tree below it: one after
another (``ImageWriter.unpack``). Either way a layer whose chain id is already there is
not unpacked again, and a failure leaves no snapshot behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from berth.errors import BerthError
from berth.store.metadata.images import LayerRecord
from berth.store.snapshots import Kind

from .writer import Extracted, ImageWriter, next_chain_id


@dataclass(frozen=True)
class LayerBlob:
    digest: str
    diff_id: str
    media_type: str | None = None


async def unpack_layers(writer: ImageWriter, blobs: list[LayerBlob], limit: asyncio.Semaphore,
                        done: Callable[[int], None]) -> list[LayerRecord]:
    """The layer records of ``blobs`` stacked in order; ``done(i)`` once layer ``i`` is
    in the store."""
    if not writer.snapshotter.changes_only:
        return await _one_by_one(writer, blobs, done)
    have = await asyncio.to_thread(_present, writer, blobs)
    layers = list(have)
    for i in range(len(have)):
        done(i)
    todo = blobs[len(have):]

    async def extract(blob: LayerBlob) -> Extracted:
        async with limit:
            return await asyncio.to_thread(writer.extract, blob.digest, blob.media_type)

    tasks = [asyncio.ensure_future(extract(blob)) for blob in todo]
    try:
        parent = layers[-1] if layers else None
        for offset, (blob, task) in enumerate(zip(todo, tasks, strict=True)):
            parent = await asyncio.to_thread(writer.adopt, await task, parent, blob.diff_id)
            layers.append(parent)
            done(len(have) + offset)
    except BaseException:
        await _discard_all(writer, tasks)
        raise
    return layers


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


async def _discard_all(writer: ImageWriter, tasks: Sequence[asyncio.Future[Extracted]]
                       ) -> None:
    """Wait for every extraction (a thread cannot be cut short) and drop what none adopted
    (``adopt`` drops its own on failure; a committed snapshot is no longer active)."""
    for task in tasks:
        try:
            extracted = await asyncio.shield(task)
        except BaseException:  # its own failure removed its snapshot
            continue
        try:
            kind = await asyncio.to_thread(writer.snapshotter.stat, extracted.key)
        except BerthError:
            continue  # committed (renamed to its chain id) or already dropped
        if kind.kind is Kind.ACTIVE:
            await asyncio.to_thread(writer.discard, extracted)
