"""``docker load``: an image archive (see ``archive``) becomes images, all or nothing.

    spool      the request body into an unnamed temporary file (decompressed if the
               whole archive is gzip/bzip2/xz), without the service lock
    stage      (lock held) read every manifest and config, copy every layer into the
               content store, verifying digests: a bad archive fails here, 400, no output
    unpack     each layer whose chain is not unpacked yet ("Loading layer" progress)
    record     the images, then their tags ("Loaded image: name:tag")

Until ``record`` nothing names what was written, so a failure at any step leaves only
unreferenced blobs and layers, which the service's garbage collection removes.
"""

from __future__ import annotations

import asyncio
import bz2
import enum
import gzip
import hashlib
import json
import lzma
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, cast

from berth.engine import streams
from berth.oci.image import MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_MANIFEST, Manifest
from berth.oci.reference import Reference
from berth.store.diff import compression_of
from berth.store.metadata.images import LayerRecord

from .archive import Archive, ArchiveImage, ArchiveLayer, invalid, read_images
from .writer import ImageWriter, canonical_json, next_chain_id

_CHUNK = 1 << 20


class _Decompressing(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...
    def close(self) -> None: ...


_COMPRESSIONS: list[tuple[bytes, Callable[[IO[bytes]], _Decompressing]]] = [
    (b"\x1f\x8b", lambda f: gzip.GzipFile(fileobj=f, mode="rb")),
    (b"BZh", lambda f: bz2.BZ2File(f, "rb")),
    (b"\xfd7zXZ\x00", lambda f: lzma.LZMAFile(f, "rb")),
]


class Kind(enum.Enum):
    LAYER = "layer"  # a layer was unpacked (detail: its diff_id and size)
    MESSAGE = "message"  # a line for the user


@dataclass(frozen=True)
class LoadEvent:
    kind: Kind
    text: str = ""
    diff_id: str = ""
    size: int = 0


LoadCallback = Callable[[LoadEvent], Awaitable[None]]


def _temporary(directory: Path) -> IO[bytes]:
    return tempfile.TemporaryFile(dir=directory)


async def spool(body: AsyncIterator[bytes], directory: Path) -> IO[bytes]:
    """The request body in an unnamed temporary file, decompressed, at offset 0."""
    raw = await asyncio.to_thread(_temporary, directory)
    try:
        await streams.write_blocks(body, raw.write)
        return await asyncio.to_thread(_decompressed, raw, directory)
    except BaseException:
        raw.close()
        raise


def _decompressed(raw: IO[bytes], directory: Path) -> IO[bytes]:
    raw.seek(0)
    head = raw.read(6)
    raw.seek(0)
    if not head:
        raise invalid("the archive is empty")
    for magic, opener in _COMPRESSIONS:
        if head.startswith(magic):
            plain = _temporary(directory)
            stream = opener(raw)
            try:
                while chunk := stream.read(_CHUNK):
                    plain.write(chunk)
            except (OSError, EOFError, lzma.LZMAError) as err:
                plain.close()
                raise invalid(f"cannot decompress: {err}") from err
            finally:
                stream.close()
            raw.close()
            plain.seek(0)
            return plain
    return raw


@dataclass
class _Staged:
    image: ArchiveImage
    config_digest: str
    config: dict[str, Any]
    diff_ids: list[str]
    blobs: list[str]  # content digest of each layer


class ImageLoader:
    """One load; the caller holds the image service's lock throughout."""

    def __init__(self, writer: ImageWriter, emit: LoadCallback) -> None:
        self.writer = writer
        self.content = writer.content
        self.store = writer.images
        self.emit = emit

    async def load(self, archive_file: IO[bytes]) -> None:
        staged = await asyncio.to_thread(self._stage, archive_file)
        layers = [await self._unpack(s) for s in staged]
        records = [await asyncio.to_thread(self._record, s, stack)
                   for s, stack in zip(staged, layers, strict=True)]
        for s, image_id in zip(staged, records, strict=True):
            for line in await asyncio.to_thread(self._tag, image_id, s.image.tags):
                await self.emit(LoadEvent(Kind.MESSAGE, line))

    # stage

    def _stage(self, archive_file: IO[bytes]) -> list[_Staged]:
        archive = Archive(archive_file)
        images = read_images(archive)
        if not images:
            raise invalid("it names no images")
        return [self._stage_image(archive, image) for image in images]

    def _stage_image(self, archive: Archive, image: ArchiveImage) -> _Staged:
        config_digest = self.content.write_blob(image.config).digest
        config = _config(image.config, config_digest)
        diff_ids: list[str] = config["rootfs"]["diff_ids"]
        if len(diff_ids) != len(image.layers):
            raise invalid(f"invalid manifest, layers length mismatch: expected "
                          f"{len(diff_ids)}, got {len(image.layers)}")
        blobs = [self._ingest(archive, layer, diff_id)
                 for layer, diff_id in zip(image.layers, diff_ids, strict=True)]
        return _Staged(image, config_digest, config, diff_ids, blobs)

    def _ingest(self, archive: Archive, layer: ArchiveLayer, diff_id: str) -> str:
        stream, size = archive.open(layer.member)
        if layer.size is not None and size != layer.size:
            raise invalid(f"size mismatch for {layer.member}: got {size}, expected "
                          f"{layer.size}")
        if layer.digest is not None and self.content.exists(layer.digest):
            _check(layer, _digest_of(stream))  # stored already: verify, do not copy
            return layer.digest
        with self.content.writer() as w:
            while chunk := stream.read(_CHUNK):
                w.write(chunk)
            _check(layer, w.digest())
            info = w.commit()
        with self.content.open(info.digest) as f:
            compressed = compression_of(f.read(4)) != ""
        if not compressed and info.digest != diff_id:
            raise invalid(f"layer {layer.member} has digest {info.digest}, but the image "
                          f"config says {diff_id}")
        return info.digest

    # unpack

    async def _unpack(self, staged: _Staged) -> list[LayerRecord]:
        parent: LayerRecord | None = None
        stack = []
        for blob, diff_id in zip(staged.blobs, staged.diff_ids, strict=True):
            chain_id = next_chain_id(parent.chain_id if parent else None, diff_id)
            known = await asyncio.to_thread(self.store.get_layer, chain_id)
            if known is not None:
                parent = known
            else:
                parent = await asyncio.to_thread(self.writer.unpack, blob, parent, diff_id)
                size = (await asyncio.to_thread(self.content.info, blob)).size
                await self.emit(LoadEvent(Kind.LAYER, diff_id=diff_id, size=size))
            stack.append(parent)
        return stack

    # record

    def _record(self, staged: _Staged, layers: list[LayerRecord]) -> str:
        manifest = staged.image.manifest
        if manifest is None:
            doc: Manifest = {
                "schemaVersion": 2, "mediaType": MEDIA_TYPE_OCI_MANIFEST,
                "config": {"mediaType": MEDIA_TYPE_OCI_CONFIG, "digest": staged.config_digest,
                           "size": len(staged.image.config)},
                "layers": [self.writer.layer_descriptor(b) for b in staged.blobs],
            }
            manifest = canonical_json(doc)
        manifest_digest = self.content.write_blob(manifest).digest
        record = self.writer.record_image(staged.config_digest, manifest_digest,
                                          str(staged.config.get("created", "")), layers,
                                          staged.blobs, [])
        return record.id

    def _tag(self, image_id: str, tags: tuple[Reference, ...]) -> list[str]:
        """Point ``tags`` at the image; docker's lines, a moved tag announced first."""
        lines = []
        for ref in tags:
            old = self.store.resolve_tag(ref.string())
            if old is not None and old != image_id:
                lines.append(f"The image {ref.familiar()} already exists, renaming the old "
                             f"one with ID {old} to empty string")
            self.store.set_tag(ref.string(), image_id)
            lines.append(f"Loaded image: {ref.familiar()}")
        return lines or [f"Loaded image ID: {image_id}"]


def _digest_of(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _check(layer: ArchiveLayer, digest: str) -> None:
    if layer.digest is not None and digest != layer.digest:
        raise invalid(f"digest mismatch for {layer.member}: got {digest}, expected "
                      f"{layer.digest}")


def _config(data: bytes, digest: str) -> dict[str, Any]:
    try:
        config = json.loads(data)
    except ValueError as err:
        raise invalid(f"config {digest} is not valid JSON: {err}") from err
    rootfs = config.get("rootfs") if isinstance(config, dict) else None
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
        raise invalid(f"config {digest} has no rootfs.diff_ids")
    if not isinstance(config.get("architecture"), str) or not isinstance(config.get("os"), str):
        raise invalid(f"config {digest} lacks os or architecture")
    return cast(dict[str, Any], config)
