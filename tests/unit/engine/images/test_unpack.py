"""Unpacking an image's layers: side by side on overlay, committed bottom up; one after
another on native; what the store has is not unpacked again; a failure leaves nothing."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import tarfile
from pathlib import Path

import pytest
from tests.tarballs import entry, make_tar

from berth.engine.images.pull import Fetched
from berth.engine.images.unpack import LayerBlob, StackUnpacker
from berth.engine.images.writer import ImageWriter, canonical_json, next_chain_id
from berth.errors import InvalidArgument
from berth.registry.client.descriptor import Descriptor
from berth.store.content import ContentStore
from berth.store.metadata.db import Database
from berth.store.metadata.images import ImageStore
from berth.store.snapshots import Kind
from berth.store.snapshots.native import NativeSnapshotter
from berth.store.snapshots.overlay import OverlaySnapshotter

LAYERS = [
    make_tar(entry("etc", tarfile.DIRTYPE, mode=0o755), entry("etc/a", data=b"one")),
    make_tar(entry("etc/b", data=b"two" * 10_000), entry("etc/.wh.a")),
    make_tar(entry("usr/bin/tool", data=b"tool", mode=0o755)),
]


@pytest.fixture(params=["overlay", "native"])
def writer(request, tmp_path) -> ImageWriter:
    kind = OverlaySnapshotter if request.param == "overlay" else NativeSnapshotter
    return ImageWriter(ContentStore(tmp_path / "content"),
                       ImageStore(Database(tmp_path / "meta.db")), kind(tmp_path / "snap"))


def blobs(writer: ImageWriter, layers: list[bytes]) -> list[LayerBlob]:
    out = []
    for data in layers:
        info = writer.content.write_blob(gzip.compress(data))
        out.append(LayerBlob(info.digest, "sha256:" + hashlib.sha256(data).hexdigest()))
    return out


def unpack(writer: ImageWriter, layers: list[LayerBlob]) -> tuple[list, list[int]]:
    done: list[int] = []
    unpacker = StackUnpacker(writer, asyncio.Semaphore(2))
    records = asyncio.run(unpacker.stack(layers, done.append))
    return records, done


def fetched(writer: ImageWriter, layers: list[LayerBlob]) -> Fetched:
    """What pull.fetch has once the config is in: its diff_ids are the layers'."""
    config = writer.content.write_blob(canonical_json(
        {"rootfs": {"type": "layers", "diff_ids": [b.diff_id for b in layers]}}))
    some = Descriptor("application/vnd.oci.image.manifest.v1+json", "sha256:" + "1" * 64, 1)
    return Fetched(some, some, {}, Descriptor("application/vnd.oci.image.config.v1+json",
                                              config.digest, config.size),
                   tuple(Descriptor("application/vnd.oci.image.layer.v1.tar+gzip",
                                    b.digest, 1) for b in layers))


def test_layers_unpack_as_they_land_and_stack_at_the_end(writer):
    layers = blobs(writer, LAYERS)

    async def pull() -> tuple[list, list[str]]:
        unpacker = StackUnpacker(writer, asyncio.Semaphore(2))
        unpacker.fetched_config(fetched(writer, layers))
        unpacker.landed(layers[2].digest)  # out of order, as downloads finish
        await asyncio.sleep(0.5)
        early = active(writer)
        unpacker.landed(layers[0].digest)
        return await unpacker.stack(layers, lambda i: None), early

    records, early = asyncio.run(pull())
    assert len(early) == (1 if writer.snapshotter.changes_only else 0)
    assert [r.diff_id for r in records] == [b.diff_id for b in layers]
    assert active(writer) == []


def test_an_aborted_pull_leaves_no_extracted_layer(writer):
    layers = blobs(writer, LAYERS)

    async def pull() -> None:
        unpacker = StackUnpacker(writer, asyncio.Semaphore(2))
        unpacker.fetched_config(fetched(writer, layers))
        for blob in layers:
            unpacker.landed(blob.digest)
        await asyncio.sleep(0.3)
        await unpacker.abort()  # the pull failed: a registry error, a cancel

    asyncio.run(pull())
    assert writer.snapshotter.walk() == [] and writer.images.get_layer(
        layers[0].diff_id) is None


def active(writer: ImageWriter) -> list[str]:
    return [i.key for i in writer.snapshotter.walk() if i.kind is not Kind.COMMITTED]


def test_layers_stack_in_order_with_their_chain_ids(writer):
    layers = blobs(writer, LAYERS)
    records, done = unpack(writer, layers)
    assert done == [0, 1, 2]
    chain = None
    for record, blob in zip(records, layers, strict=True):
        chain = next_chain_id(chain, blob.diff_id)
        assert record.chain_id == chain and record.snapshot == chain
        assert writer.snapshotter.stat(chain).parent == (record.parent or None)
    assert active(writer) == []
    top = Path(writer.snapshotter.writable_path(records[2].snapshot)) if \
        not writer.snapshotter.changes_only else None
    if top is not None:  # native: the top snapshot holds the whole tree
        assert sorted(p.relative_to(top).as_posix() for p in top.rglob("*")) == \
            ["etc", "etc/b", "usr", "usr/bin", "usr/bin/tool"]


def test_layers_the_store_has_are_not_unpacked_again(writer):
    layers = blobs(writer, LAYERS)
    first, _ = unpack(writer, layers[:2])
    snapshots = len(writer.snapshotter.walk())
    records, done = unpack(writer, layers)
    assert records[:2] == first and done == [0, 1, 2]
    assert len(writer.snapshotter.walk()) == snapshots + 1


def test_a_bad_layer_leaves_no_snapshot_and_no_layer(writer):
    layers = blobs(writer, LAYERS)
    layers[1] = LayerBlob(layers[1].digest, "sha256:" + "0" * 64)  # a wrong diff_id
    with pytest.raises(InvalidArgument, match="has diff_id"):
        unpack(writer, layers)
    assert active(writer) == []
    kept = [i.key for i in writer.snapshotter.walk()]
    assert kept == [layers[0].diff_id]  # the bottom layer is fine and stays
    assert writer.images.get_layer(layers[0].diff_id) is not None
