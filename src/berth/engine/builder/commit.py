"""Turning a build step into an image (blocking store work through the
``LayerCommitter`` role of :mod:`.backend`; the builder runs each write through
``ImageProvider.locked`` so garbage collection never sees half of it).

Every step commits an image whose ``parent`` is the image the step started from, so
``images -a`` shows the chain and the cache (:mod:`.cache`) can walk it. A step that
changes files hands over an upper directory (the RUN container's writable snapshot, or a
scratch snapshot COPY and WORKDIR write into); its tar diff becomes a layer blob, and the
blob is unpacked once onto the parent layer (dedup by chain id, as a pull does)::

    upper dir ──write_diff──▶ blob (uncompressed tar, digest = diff_id)
                                 └──unpack on parent chain──▶ committed snapshot <chain id>
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from berth.engine.builder.backend import LayerCommitter
from berth.engine.builder.mountpoints import drop_mount_points, drop_placeholders
from berth.engine.builder.state import BaseImage
from berth.engine.clock import rfc3339
from berth.engine.images.writer import next_chain_id
from berth.errors import NotFound
from berth.oci.image import ContainerConfig, Descriptor, History, ImageConfig, Manifest
from berth.oci.mount import Mount
from berth.store.metadata.images import LayerRecord
from berth.store.rootview import LayerTree


@dataclass(frozen=True)
class Layer:
    record: LayerRecord
    descriptor: Descriptor


class Committer:
    def __init__(self, layers: LayerCommitter) -> None:
        self._layers = layers

    # reading images

    def load(self, image_id: str) -> BaseImage:
        record = self._layers.image_record(image_id)
        if record is None:
            raise NotFound(f"No such image: {image_id}")
        config = cast(ImageConfig, json.loads(self._layers.read_blob(record.config_digest)))
        layers: list[LayerRecord] = []
        chain: str | None = None
        for diff_id in config["rootfs"]["diff_ids"]:
            chain = next_chain_id(chain, diff_id)
            layer = self._layers.layer(chain)
            if layer is None:
                raise NotFound(f"layer {chain} of image {image_id} is not unpacked")
            layers.append(layer)
        blobs: list[Descriptor] = []
        if record.manifest_digest:
            manifest = cast(Manifest,
                            json.loads(self._layers.read_blob(record.manifest_digest)))
            blobs = list(manifest.get("layers", []))
        if len(blobs) != len(layers):  # e.g. an index: describe the layers by diff_id
            blobs = [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                      "digest": layer.diff_id, "size": layer.size} for layer in layers]
        return BaseImage(record.id, config, tuple(layers), tuple(blobs))

    def layer_dirs(self, image: BaseImage) -> list[Path]:
        """The directories of ``image``'s layers, top first (a LayerTree's input)."""
        if not image.layers:
            return []
        return _mount_dirs(self._layers.snapshot_mounts(image.layers[-1].snapshot))

    # committing

    def commit(self, base: BaseImage, container: ContainerConfig, created_by: str,
               layer: Layer | None, author: str | None = None) -> BaseImage:
        """A child image of ``base`` with ``container`` as its config and one more history
        entry (``empty_layer`` unless ``layer`` is given)."""
        created = rfc3339()
        history = History(created=created, created_by=created_by)
        if layer is None:
            history["empty_layer"] = True
        config: ImageConfig = json.loads(json.dumps(base.config))
        config["created"] = created
        config["config"] = container
        if author is not None:
            config["author"] = author
        config["history"] = [*config.get("history", []), history]
        layers, blobs = list(base.layers), list(base.blobs)
        if layer is not None:
            config["rootfs"]["diff_ids"].append(layer.record.diff_id)
            layers.append(layer.record)
            blobs.append(layer.descriptor)
        record = self._layers.create_image(config, blobs, layers, [], parent=base.id)
        return BaseImage(record.id, config, tuple(layers), tuple(blobs))

    def layer_from_upper(self, upper: Path, base: BaseImage) -> Layer | None:
        """The tar diff of ``upper`` as a layer on top of ``base``; None when nothing
        changed (docker records such a step as an ``empty_layer``)."""
        if not any(upper.iterdir()):
            return None
        record, descriptor = self._layers.commit_layer(
            upper, base.layers[-1] if base.layers else None)
        return Layer(record, descriptor)

    def container_layer(self, key: str, base: BaseImage, mount_points: Sequence[str] = ()
                        ) -> Layer | None:
        """The layer a RUN container's snapshot ``key`` made (``mount_points``: the
        targets of its ``--mount``s, whose mount points are no part of it)."""
        upper = self._layers.writable_path(key)
        lower = LayerTree(self.layer_dirs(base))
        drop_placeholders(upper, lower)
        if mount_points:
            drop_mount_points(upper, lower, mount_points)
        return self.layer_from_upper(upper, base)

    def upper(self, key: str) -> Path:
        """The writable directory of snapshot ``key`` (a RUN container's)."""
        return self._layers.writable_path(key)

    # scratch snapshots that COPY and WORKDIR write into

    def prepare(self, base: BaseImage) -> tuple[str, Path]:
        key = f"build-{secrets.token_hex(8)}"
        return key, self._layers.prepare_snapshot(
            key, base.layers[-1].snapshot if base.layers else None)

    def discard(self, key: str) -> None:
        self._layers.remove_snapshot(key)


def _mount_dirs(mounts: list[Mount]) -> list[Path]:
    out: list[Path] = []
    for m in mounts:
        if m.type == "bind":
            out.append(Path(m.source))
            continue
        opts = dict(o.split("=", 1) for o in m.options if "=" in o)
        if "upperdir" in opts:
            out.append(Path(opts["upperdir"]))
        out.extend(Path(p) for p in opts.get("lowerdir", "").split(":") if p)
    return out
