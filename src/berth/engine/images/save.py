"""``docker save``: images as one tar, readable by ``docker load`` old and new and by any
OCI tool (moby ``image/tarexport/save.go`` as of 25.0)::

    blobs/sha256/<diff_id hex>     each layer once, uncompressed (so its digest is its diff_id)
    blobs/sha256/<image id hex>    each config, byte for byte (its digest is the image ID)
    blobs/sha256/<manifest hex>    an OCI manifest per image, naming the two above
    index.json                     OCI index: a manifest descriptor per tag, annotated with
                                   io.containerd.image.name and org.opencontainers.image.ref.name
    oci-layout                     {"imageLayoutVersion": "1.0.0"}
    manifest.json                  docker's [{Config, RepoTags, Layers}], paths into blobs/
    repositories                   {repo: {tag: top layer hex}} (only when a name was saved)

Layers stored compressed (pulled ones) are decompressed to a temporary file first: a tar
header needs the size before the data. The blobs are opened while the service holds its
lock (``SavePlan``), so an ``rmi`` during a slow download cannot pull them away.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from berth.engine import clock
from berth.errors import BerthError, InvalidArgument
from berth.oci.digest import hex_part
from berth.oci.image import (
    MEDIA_TYPE_OCI_CONFIG,
    MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_OCI_LAYER,
    MEDIA_TYPE_OCI_MANIFEST,
)
from berth.oci.reference import Reference, parse
from berth.store.content import ContentStore
from berth.store.diff import compression_of, decompressed
from berth.store.metadata.images import ImageRecord, ImageStore

ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
_CHUNK = 1 << 20


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


@dataclass
class SavedImage:
    id: str
    config: bytes
    created: float  # unix seconds, the mtime of the image's files
    diff_ids: list[str]
    refs: list[Reference] = field(default_factory=list)  # tagged references saved with it


@dataclass
class SavePlan:
    """What one save writes, with every layer blob already open (by diff_id)."""

    images: list[SavedImage]
    layers: dict[str, BinaryIO]
    spool_dir: Path

    def close(self) -> None:
        for f in self.layers.values():
            f.close()


def blob_path(digest: str) -> str:
    return f"blobs/sha256/{hex_part(digest)}"


class _ArchiveWriter:
    def __init__(self, out: _Writable) -> None:
        self.tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)  # type: ignore[call-overload]
        self.now = time.time()

    def directory(self, name: str) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, self.now
        self.tar.addfile(info)

    def file(self, name: str, data: BinaryIO, size: int, mtime: float) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, 0o644, mtime
        self.tar.addfile(info, data)

    def bytes(self, name: str, data: bytes, mtime: float | None = None) -> None:
        self.file(name, io.BytesIO(data), len(data), self.now if mtime is None else mtime)

    def close(self) -> None:
        self.tar.close()


def _uncompressed(blob: BinaryIO, diff_id: str, spool_dir: Path) -> tuple[BinaryIO, int]:
    """The layer as an uncompressed tar and its size; a compressed blob is inflated into
    an unnamed temporary file and checked against its diff_id on the way."""
    blob.seek(0)
    head = blob.read(4)
    blob.seek(0)
    if not compression_of(head):
        size = blob.seek(0, io.SEEK_END)
        blob.seek(0)
        return blob, size
    spool = tempfile.TemporaryFile(dir=spool_dir)
    digest = hashlib.sha256()
    reader = decompressed(blob)
    while chunk := reader.read(_CHUNK):
        digest.update(chunk)
        spool.write(chunk)
    if "sha256:" + digest.hexdigest() != diff_id:
        spool.close()
        raise BerthError(f"layer {diff_id} is corrupt in the content store: its uncompressed "
                         f"digest is sha256:{digest.hexdigest()}")
    size = spool.tell()
    spool.seek(0)
    return spool, size


def _manifest(image: SavedImage, sizes: dict[str, int]) -> bytes:
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_OCI_MANIFEST,
        "config": {"mediaType": MEDIA_TYPE_OCI_CONFIG, "digest": image.id,
                   "size": len(image.config)},
        "layers": [{"mediaType": MEDIA_TYPE_OCI_LAYER, "digest": d, "size": sizes[d]}
                   for d in image.diff_ids],
    }, separators=(",", ":")).encode()


def _index_entries(image: SavedImage, manifest: bytes) -> Iterator[dict[str, object]]:
    descriptor: dict[str, object] = {
        "mediaType": MEDIA_TYPE_OCI_MANIFEST,
        "digest": "sha256:" + hashlib.sha256(manifest).hexdigest(), "size": len(manifest)}
    if not image.refs:
        yield descriptor
    for ref in image.refs:
        yield {**descriptor, "annotations": {ANNOTATION_IMAGE_NAME: ref.string(),
                                             ANNOTATION_REF_NAME: ref.tag or ""}}


def write_archive(plan: SavePlan, out: _Writable) -> None:
    """Write the whole archive to ``out`` (synchronous; run it in a thread)."""
    archive = _ArchiveWriter(out)
    archive.directory("blobs")
    archive.directory("blobs/sha256")
    sizes: dict[str, int] = {}
    index: list[dict[str, object]] = []
    legacy: list[dict[str, object]] = []
    repositories: dict[str, dict[str, str]] = {}
    for image in plan.images:
        for diff_id in image.diff_ids:
            if diff_id in sizes:
                continue
            data, size = _uncompressed(plan.layers[diff_id], diff_id, plan.spool_dir)
            try:
                archive.file(blob_path(diff_id), data, size, image.created)
            finally:
                if data is not plan.layers[diff_id]:
                    data.close()
            sizes[diff_id] = size
        archive.bytes(blob_path(image.id), image.config, image.created)
        manifest = _manifest(image, sizes)
        entries = list(_index_entries(image, manifest))
        archive.bytes(blob_path(str(entries[0]["digest"])), manifest, image.created)
        index.extend(entries)
        legacy.append({"Config": blob_path(image.id),
                       "RepoTags": [r.familiar() for r in image.refs] or None,
                       "Layers": [blob_path(d) for d in image.diff_ids]})
        for ref in image.refs:
            if image.diff_ids and ref.tag:
                top = hex_part(image.diff_ids[-1])
                repositories.setdefault(ref.familiar_name(), {})[ref.tag] = top
    archive.bytes("index.json", json.dumps(
        {"schemaVersion": 2, "mediaType": MEDIA_TYPE_OCI_INDEX, "manifests": index},
        separators=(",", ":")).encode())
    archive.bytes("manifest.json", json.dumps(legacy, separators=(",", ":")).encode())
    archive.bytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    if repositories:
        archive.bytes("repositories", json.dumps(repositories, separators=(",", ":")).encode())
    archive.close()


class _Resolve(Protocol):
    def __call__(self, ref_or_id: str, /) -> ImageRecord: ...


@dataclass(frozen=True)
class SaveSources:
    store: ImageStore
    content: ContentStore
    resolve: _Resolve
    spool_dir: Path


def _named(sources: SaveSources, name: str) -> list[tuple[ImageRecord, Reference | None]]:
    """What one name saves (moby's ``parseNames``): a bare repository every tag of it, a
    tag its image with that tag, an ID (or digest reference) the image without names."""
    try:
        ref: Reference | None = parse(name)
    except InvalidArgument:
        ref = None
    if ref is not None and ref.tag is None and ref.digest is None:
        found: list[tuple[ImageRecord, Reference | None]] = []
        for tag in sources.store.list_tags():
            tagged = parse(tag.name)
            if tagged.name == ref.name and tagged.tag is not None:
                record = sources.store.get_image(tag.image_id)
                if record is not None:
                    found.append((record, tagged))
        if found:
            return found
        return [(sources.resolve(name), None)]
    record = sources.resolve(name)
    if ref is not None and ref.tag is not None \
            and sources.store.resolve_tag(ref.string()) == record.id:
        return [(record, ref)]
    return [(record, None)]


def _layer_blobs(sources: SaveSources, record: ImageRecord, diff_ids: list[str]) -> list[str]:
    """The stored blob of each layer: the manifest's, else one named by the diff_id."""
    if record.manifest_digest is not None:
        manifest = json.loads(sources.content.read(record.manifest_digest))
        blobs = [str(d["digest"]) for d in manifest.get("layers", [])]
        if len(blobs) == len(diff_ids):
            return blobs
    return list(diff_ids)


def plan_save(sources: SaveSources, names: list[str]) -> SavePlan:
    """Resolve ``names`` and open every blob they need (call under the service's lock)."""
    if not names:
        raise InvalidArgument("no image names given to save")
    by_id: dict[str, SavedImage] = {}
    plan = SavePlan([], {}, sources.spool_dir)
    try:
        for name in names:
            for record, ref in _named(sources, name):
                image = by_id.get(record.id)
                if image is None:
                    image = _saved_image(sources, record, plan)
                    by_id[record.id] = image
                    plan.images.append(image)
                if ref is not None and ref not in image.refs:
                    image.refs.append(ref)
    except BaseException:
        plan.close()
        raise
    return plan


def _saved_image(sources: SaveSources, record: ImageRecord, plan: SavePlan) -> SavedImage:
    config = sources.content.read(record.config_digest)
    doc = json.loads(config)
    diff_ids = [str(d) for d in doc.get("rootfs", {}).get("diff_ids", [])]
    for diff_id, blob in zip(diff_ids, _layer_blobs(sources, record, diff_ids), strict=True):
        if diff_id not in plan.layers:
            plan.layers[diff_id] = sources.content.open(blob)
    try:
        created = clock.parse(doc.get("created") or record.created)
    except ValueError:
        created = 0.0
    return SavedImage(record.id, config, created, diff_ids)
