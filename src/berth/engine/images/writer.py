"""Turning layer blobs into snapshots and configs into images (synchronous; the service
calls it through ``asyncio.to_thread`` under its write lock).

Layers unpack once: the committed snapshot of a layer stack is named by its chain id and
shared by every image that stacks the same layers. Unpacking goes to a temporary active
snapshot that is committed under the chain id only once the whole layer is applied.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from berth.errors import Conflict, InvalidArgument, NotFound
from berth.oci.image import (
    MEDIA_TYPE_OCI_CONFIG,
    MEDIA_TYPE_OCI_LAYER,
    MEDIA_TYPE_OCI_LAYER_GZIP,
    MEDIA_TYPE_OCI_LAYER_ZSTD,
    MEDIA_TYPE_OCI_MANIFEST,
    Descriptor,
    ImageConfig,
    Manifest,
)
from berth.oci.reference import Reference
from berth.store.content import ContentStore
from berth.store.diff import ApplyOptions, WhiteoutMode, apply_layer, write_diff
from berth.store.metadata.images import ImageRecord, ImageStore, LayerRecord
from berth.store.metadata.leases import Leases
from berth.store.snapshots import Snapshotter

log = logging.getLogger(__name__)


def canonical_json(document: object) -> bytes:
    """The stored form of configs and manifests: sorted keys, compact, so the digest (and
    with it the image ID) depends only on the content."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def next_chain_id(parent: str | None, diff_id: str) -> str:
    if parent is None:
        return diff_id
    return "sha256:" + hashlib.sha256(f"{parent} {diff_id}".encode()).hexdigest()


@dataclass(frozen=True)
class Extracted:
    """A layer applied to active snapshot ``key``, not yet committed."""

    key: str
    blob: str
    diff_id: str
    on_parent: bool  # prepared on its parent (``unpack``), not on nothing (``extract``)


class ImageWriter:
    def __init__(self, content: ContentStore, images: ImageStore,
                 snapshotter: Snapshotter, leases: Leases | None = None) -> None:
        self.content = content
        self.images = images
        self.snapshotter = snapshotter
        self.leases = leases  # blobs of unfinished pulls, kept by collect_garbage

    def layer_descriptor(self, digest: str) -> Descriptor:
        with self.content.open(digest) as f:
            head = f.read(4)
        media_type = MEDIA_TYPE_OCI_LAYER
        if head.startswith(b"\x1f\x8b"):
            media_type = MEDIA_TYPE_OCI_LAYER_GZIP
        elif head.startswith(b"\x28\xb5\x2f\xfd"):
            media_type = MEDIA_TYPE_OCI_LAYER_ZSTD
        return {"mediaType": media_type, "digest": digest,
                "size": self.content.info(digest).size}

    def unpack(self, blob: str, parent: LayerRecord | None,
               expected_diff_id: str | None = None, media_type: str | None = None
               ) -> LayerRecord:
        """Apply layer ``blob`` (of ``media_type``, if a manifest says) on ``parent``;
        returns the (possibly existing) layer."""
        if expected_diff_id is not None:
            existing = self.images.get_layer(
                next_chain_id(parent.chain_id if parent else None, expected_diff_id))
            if existing is not None:
                return existing
        key = f"extract-{secrets.token_hex(8)}"
        mounts = self.snapshotter.prepare(key, parent.snapshot if parent else None)
        mode = WhiteoutMode.OVERLAY if mounts[0].type == "overlay" else WhiteoutMode.DELETE
        return self.adopt(self._apply(key, blob, mode, media_type, parent is not None),
                          parent, expected_diff_id)

    def extract(self, blob: str, media_type: str | None = None) -> Extracted:
        """Apply layer ``blob`` to a snapshot of its own, on nothing, for :meth:`adopt` to
        put on its parent later: layers of one image unpack side by side. Only on a
        ``changes_only`` snapshotter (overlay: a layer's own directory never depends on
        what is below it; its whiteouts are the overlay's own marks)."""
        key = f"extract-{secrets.token_hex(8)}"
        self.snapshotter.prepare(key, None)
        return self._apply(key, blob, WhiteoutMode.OVERLAY, media_type, False)

    def _apply(self, key: str, blob: str, mode: WhiteoutMode, media_type: str | None,
               on_parent: bool) -> Extracted:
        try:
            with self.content.open(blob) as f:
                result = apply_layer(f, Path(self.snapshotter.writable_path(key)),
                                     ApplyOptions(whiteouts=mode), media_type)
        except BaseException:
            self._discard(key)
            raise
        return Extracted(key, blob, result.diff_id, on_parent)

    def adopt(self, extracted: Extracted, parent: LayerRecord | None,
              expected_diff_id: str | None = None) -> LayerRecord:
        """Commit an extracted layer on ``parent`` (an :meth:`unpack` snapshot already
        stands on it; an :meth:`extract` one is put on it now) as the layer of its chain
        id, or drop it for an identical layer already there."""
        key, diff_id = extracted.key, extracted.diff_id
        try:
            if expected_diff_id is not None and diff_id != expected_diff_id:
                raise InvalidArgument(f"layer {extracted.blob} has diff_id {diff_id}, "
                                      f"expected {expected_diff_id}")
            chain_id = next_chain_id(parent.chain_id if parent else None, diff_id)
            existing = self.images.get_layer(chain_id)
            if existing is not None:
                self._discard(key)
                return existing
            try:
                self.snapshotter.commit(chain_id, key, parent.snapshot
                                        if parent is not None and not extracted.on_parent
                                        else None)
            except Conflict:  # a snapshot left without its layer record by a crash
                self._discard(key)
        except BaseException:
            self._discard(key)
            raise
        layer = LayerRecord(chain_id=chain_id, diff_id=diff_id,
                            parent=parent.chain_id if parent else None,
                            depth=parent.depth + 1 if parent else 0, snapshot=chain_id,
                            size=self.snapshotter.usage(chain_id))
        self.images.put_layer(layer)
        return layer

    def commit_upper(self, upper: Path, parent: LayerRecord | None
                     ) -> tuple[LayerRecord, Descriptor]:
        """The tar diff of directory ``upper`` (a build step's overlay upper dir: its
        whiteouts become the tar's) stored as a blob whose digest is its diff_id, and
        unpacked once onto ``parent``: the layer and the blob's descriptor."""
        with self.content.writer() as w:
            for chunk in write_diff(upper):
                w.write(chunk)
            blob = w.commit()
        layer = self.unpack(blob.digest, parent, expected_diff_id=blob.digest)
        return layer, self.layer_descriptor(blob.digest)

    def discard(self, extracted: Extracted) -> None:
        """Drop an extracted layer that will not be adopted (its pull failed)."""
        self._discard(extracted.key)

    def _discard(self, key: str) -> None:
        try:
            self.snapshotter.remove(key)
        except NotFound:
            pass

    def create_image(self, config: ImageConfig, blobs: list[Descriptor],
                     layers: list[LayerRecord], tags: Iterable[Reference],
                     parent: str = "") -> ImageRecord:
        """Store config and manifest, record the image and point ``tags`` at it;
        ``parent`` is the image a build step made it from (``docker images -a``)."""
        cfg = self.content.write_blob(canonical_json(config))
        manifest: Manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_OCI_MANIFEST,
            "config": {"mediaType": MEDIA_TYPE_OCI_CONFIG, "digest": cfg.digest,
                       "size": cfg.size},
            "layers": blobs,
        }
        man = self.content.write_blob(canonical_json(manifest))
        return self.record_image(cfg.digest, man.digest, config.get("created", ""), layers,
                                 [d["digest"] for d in blobs], tags, parent)

    def record_image(self, config_digest: str, manifest_digest: str, created: str,
                     layers: list[LayerRecord], blobs: Iterable[str],
                     tags: Iterable[Reference], parent: str = "") -> ImageRecord:
        """Record an image whose config and manifest are already stored as they are (a
        pull keeps the registry's bytes, so its digests and image ID stay the registry's);
        ``blobs`` are the other blobs it keeps alive (layers, an index)."""
        record = ImageRecord(id=config_digest, config_digest=config_digest,
                             manifest_digest=manifest_digest, created=created,
                             size=sum(layer.size for layer in layers), parent=parent)
        self.images.put_image(record, [layer.chain_id for layer in layers],
                              [config_digest, manifest_digest, *blobs])
        for tag in tags:
            self.images.set_tag(tag.string(), record.id)
        return self.images.get_image(record.id) or record

    def collect_garbage(self) -> int:
        """Remove layers no image stacks (unless a container still sits on them) and blobs
        no image references nor a lease holds (a pull's, finished or interrupted); return
        the bytes freed. Callers hold the service's write lock, so no ingest that is about
        to become an image can be collected."""
        freed = 0
        for layer in self.images.unreferenced_layers():
            try:
                self.snapshotter.remove(layer.snapshot)
            except NotFound:
                pass
            except Conflict:
                log.info("keeping layer %s: a snapshot still uses it", layer.chain_id)
                continue
            self.images.delete_layer(layer.chain_id)
            freed += layer.size
        keep = self.images.referenced_blobs()
        if self.leases is not None:
            keep |= self.leases.held()
        for blob in list(self.content.walk()):
            if blob.digest not in keep:
                self.content.delete(blob.digest)
                freed += blob.size
        return freed
