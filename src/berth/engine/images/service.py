"""The image service the daemon's routes call: lookup, list, tag, rmi, import, bootstrap
and container root filesystems. Async on the outside; the store work runs in threads, and
one lock serializes every change, so garbage collection never races an import."""

from __future__ import annotations

import asyncio
import builtins
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from berth.errors import BerthError, InvalidArgument, NotFound, Unavailable
from berth.oci.image import ContainerConfig, ImageConfig
from berth.oci.mount import Mount
from berth.oci.reference import Reference, parse, parse_named, parse_repository, validate_tag
from berth.registry.client.session import RegistrySession, SessionOptions
from berth.store.content import ContentStore, Info
from berth.store.metadata.db import Database
from berth.store.metadata.images import ImageRecord, ImageStore
from berth.store.snapshots import Kind, Snapshotter

from . import bootstrap as bootstrap_mod
from . import pull as pull_mod
from .changes import apply_changes
from .delete import DeleteRequest, ImageDeleter, Users
from .image import Image
from .pull import PullCallback, PullProgress, Step
from .writer import ImageWriter

_HEX_PREFIX_RE = re.compile(r"^(?:sha256:)?([a-f0-9]{1,64})$")
_SPOOL_CHUNK = 1 << 20


@dataclass(frozen=True)
class PullResult:
    image: Image
    reference: Reference  # what was pulled, tagged (``:latest`` by default) or by digest
    digest: str  # the top-level manifest (or index) the registry served
    updated: bool  # False: the reference already named this image


class ImageService:
    def __init__(self, root: Path, db: Database, snapshotter: Snapshotter) -> None:
        self.content = ContentStore(root)
        self.store = ImageStore(db)
        self.snapshotter = snapshotter
        self.writer = ImageWriter(self.content, self.store, snapshotter)
        self.deleter = ImageDeleter(self.store, self.writer.collect_garbage)
        self._lock = asyncio.Lock()

    # lookup

    def _resolve(self, ref_or_id: str) -> ImageRecord:
        ref: Reference | None = None
        try:
            ref = parse(ref_or_id)
        except InvalidArgument:
            ref = None
        if ref is not None:
            record = self._by_reference(ref)
            if record is not None:
                return record
        match = _HEX_PREFIX_RE.match(ref_or_id)
        if match is not None:
            found = self.store.find_images("sha256:" + match.group(1))
            if len(found) == 1:
                return found[0]
        if match is None and ref is None:
            raise InvalidArgument("invalid reference format")
        shown = ref.with_default_tag().familiar() if ref is not None else ref_or_id
        raise NotFound(f"No such image: {shown}")

    def _by_reference(self, ref: Reference) -> ImageRecord | None:
        image_id = self.store.resolve_tag(ref.with_default_tag().string())
        if image_id is None and ref.digest is not None:
            image_id = next((i.id for i in self.store.list_images()
                             if i.manifest_digest == ref.digest), None)
        return self.store.get_image(image_id) if image_id is not None else None

    def _image(self, record: ImageRecord) -> Image:
        config = cast(ImageConfig, json.loads(self.content.read(record.config_digest)))
        refs = [parse(name) for name in self.store.tags_of(record.id)]
        history = config.get("history", [])
        return Image(
            id=record.id,
            repo_tags=tuple(r.familiar() for r in refs if r.digest is None),
            repo_digests=tuple(r.familiar() for r in refs if r.digest is not None),
            created=config.get("created", record.created),
            size=record.size,
            config=config,
            parent=record.parent,
            comment=history[-1].get("comment", "") if history else "",
        )

    def _get(self, ref_or_id: str) -> Image:
        return self._image(self._resolve(ref_or_id))

    async def get(self, ref_or_id: str) -> Image:
        return await asyncio.to_thread(self._get, ref_or_id)

    def _list(self, all: bool) -> list[Image]:
        images = [self._image(r) for r in self.store.list_images()]
        if all:
            return images
        parents = {i.parent for i in images if i.parent}
        return [i for i in images if i.repo_tags or i.repo_digests or i.id not in parents]

    async def list(self, all: bool = False) -> builtins.list[Image]:
        return await asyncio.to_thread(self._list, all)

    # changes

    def _tag(self, source: str, repo: str, tag: str) -> None:
        record = self._resolve(source)
        target = parse_repository(repo).with_tag(validate_tag(tag)) if tag \
            else parse_named(repo)
        self.store.set_tag(target.string(), record.id)

    async def tag(self, source: str, repo: str, tag: str) -> None:
        async with self._lock:
            await asyncio.to_thread(self._tag, source, repo, tag)

    async def remove(self, ref: str, force: bool, users: Callable[[str], Users],
                     ) -> builtins.list[tuple[str, str]]:
        async with self._lock:
            record = await asyncio.to_thread(self._resolve, ref)
            request = DeleteRequest(text=ref, image=record, force=force, users=users(record.id))
            return await asyncio.to_thread(self.deleter.delete, request)

    async def _spool(self, chunks: AsyncIterator[bytes]) -> Info:
        """Stream ``chunks`` into the content store, 1 MiB at a time."""
        writer = await asyncio.to_thread(self.content.writer)
        try:
            buffer = bytearray()
            async for chunk in chunks:
                buffer += chunk
                if len(buffer) >= _SPOOL_CHUNK:
                    await asyncio.to_thread(writer.write, bytes(buffer))
                    buffer.clear()
            if buffer:
                await asyncio.to_thread(writer.write, bytes(buffer))
            return await asyncio.to_thread(writer.commit)
        finally:
            writer.abort()

    def _import(self, blob: Info, ref: Reference | None, container: ContainerConfig,
                message: str) -> Image:
        layer = self.writer.unpack(blob.digest, None)
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        history: dict[str, str] = {"created": created, "created_by": "berth import"}
        if message:
            history["comment"] = message
        config: ImageConfig = {
            "architecture": bootstrap_mod.architecture(), "os": "linux", "created": created,
            "config": container, "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
            "history": [history],  # type: ignore[list-item]
        }
        record = self.writer.create_image(config, [self.writer.layer_descriptor(blob.digest)],
                                          [layer], [ref] if ref else [])
        return self._image(record)

    async def import_image(self, tar: AsyncIterator[bytes], repo_tag: str | None,
                           changes: builtins.list[str], message: str) -> Image:
        ref = parse_named(repo_tag) if repo_tag else None
        container = apply_changes(ContainerConfig(), changes)
        async with self._lock:
            blob = await self._spool(tar)
            try:
                return await asyncio.to_thread(self._import, blob, ref, container, message)
            finally:
                await asyncio.to_thread(self.writer.collect_garbage)

    def _bootstrap(self, ref: Reference) -> Image:
        with self.content.writer() as w:
            mtime = bootstrap_mod.write_busybox_layer(w)
            blob = w.commit()
        layer = self.writer.unpack(blob.digest, None, expected_diff_id=blob.digest)
        config = bootstrap_mod.busybox_config(layer.diff_id, mtime)
        descriptor = self.writer.layer_descriptor(blob.digest)
        return self._image(self.writer.create_image(config, [descriptor], [layer], [ref]))

    async def bootstrap(self, name: str) -> Image:
        ref = parse_named(name)
        bootstrap_mod.check_supported(ref)
        async with self._lock:
            return await asyncio.to_thread(self._bootstrap, ref)

    # registries

    async def pull(self, name: str, progress: PullCallback | None = None,
                   insecure: frozenset[str] = frozenset()) -> PullResult:
        """Pull ``name`` (``busybox``, ``localhost:5000/x:1``, ``x@sha256:...``).

        Registry errors before the first progress event (no such manifest, an unreachable
        registry) are raised before ``progress`` is ever called."""
        ref = parse_named(name).with_default_tag()
        relay = pull_mod.Relay(progress)
        try:
            async with RegistrySession(SessionOptions(insecure=insecure)) as session, relay:
                fetched = await pull_mod.fetch(session, ref, self.content, relay)
                async with self._lock:
                    await pull_mod.refetch_missing(session, ref, self.content, fetched)
                    return await self._install(ref, fetched, relay)
        except Unavailable as err:  # docker answers 500 with the connection error
            raise BerthError(err.message) from err

    async def _install(self, ref: Reference, fetched: pull_mod.Fetched,
                       relay: pull_mod.Relay[PullProgress]) -> PullResult:
        diff_ids = await asyncio.to_thread(pull_mod.diff_ids, self.content, fetched)
        parent = None
        layers = []
        for blob, diff_id in zip(fetched.layers, diff_ids, strict=True):
            parent = await asyncio.to_thread(self.writer.unpack, blob.digest, parent, diff_id)
            layers.append(parent)
            if blob.digest in fetched.downloaded:
                relay.emit(PullProgress(Step.COMPLETE, blob.digest, blob.size, blob.size))
        tags = [ref, replace(ref, tag=None, digest=fetched.top.digest)]
        if ref.digest is not None:
            tags = [ref]
        shown = tags[0].string()
        before = await asyncio.to_thread(self.store.resolve_tag, shown)

        def record() -> Image:
            config = cast(ImageConfig, json.loads(self.content.read(fetched.config.digest)))
            blobs = [b.digest for b in fetched.layers]
            if fetched.top.digest != fetched.manifest.digest:
                blobs.append(fetched.top.digest)
            return self._image(self.writer.record_image(
                fetched.config.digest, fetched.manifest.digest, config.get("created", ""),
                layers, blobs, tags))

        image = await asyncio.to_thread(record)
        return PullResult(image, ref, fetched.top.digest, before != image.id)

    # container root filesystems

    def _prepare_rootfs(self, image_id: str, key: str) -> builtins.list[Mount]:
        image = self._get(image_id)
        parent = None
        if image.chain_id is not None:
            layer = self.store.get_layer(image.chain_id)
            if layer is None:
                raise NotFound(f"layer {image.chain_id} of image {image.id} is not unpacked")
            parent = layer.snapshot
        return self.snapshotter.prepare(key, parent)

    async def prepare_rootfs(self, image_id: str, key: str) -> builtins.list[Mount]:
        async with self._lock:
            return await asyncio.to_thread(self._prepare_rootfs, image_id, key)

    async def rootfs_mounts(self, key: str) -> builtins.list[Mount]:
        return await asyncio.to_thread(self.snapshotter.mounts, key)

    def _remove_rootfs(self, key: str) -> None:
        try:
            self.snapshotter.remove(key)
        except NotFound:
            pass

    async def remove_rootfs(self, key: str) -> None:
        async with self._lock:
            await asyncio.to_thread(self._remove_rootfs, key)

    async def prune_rootfs(self, keep: set[str]) -> builtins.list[str]:
        """Remove writable snapshots that no container owns (a crash between preparing a
        rootfs and recording its container), then directories no snapshot names."""
        async with self._lock:
            return await asyncio.to_thread(self._prune_rootfs, keep)

    def _prune_rootfs(self, keep: set[str]) -> builtins.list[str]:
        doomed = [i.key for i in self.snapshotter.walk()
                  if i.kind is not Kind.COMMITTED and i.key not in keep]
        for key in reversed(doomed):  # children before parents
            self._remove_rootfs(key)
        self.snapshotter.cleanup()
        return doomed

    async def rootfs_usage(self, key: str) -> int:
        return await asyncio.to_thread(self.snapshotter.usage, key)
