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

from berth.engine.images.unpack import LayerBlob, unpack_layers
from berth.engine.images.writer import ImageWriter, next_chain_id
from berth.errors import InvalidArgument
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
    records = asyncio.run(unpack_layers(writer, layers, asyncio.Semaphore(2), done.append))
    return records, done


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
