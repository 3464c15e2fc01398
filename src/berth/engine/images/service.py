"""The image service the daemon's routes call: lookup, list, tag, rmi, import, bootstrap
and container root filesystems. Async on the outside; the store work runs in threads, and
one lock serializes every change, so garbage collection never races an import.

The builder sees it through the roles of ``engine/builder/backend.py`` (blocking lookups
and layer commits, run in its threads and under :meth:`ImageService.locked`); the stores
behind it (content, metadata, snapshots, the writer) stay private."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import os
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar, cast

from berth.engine import streams
from berth.errors import BerthError, NotFound, Unavailable
from berth.oci.image import ContainerConfig, Descriptor, ImageConfig, chain_ids
from berth.oci.mount import Mount
from berth.oci.reference import Reference, parse, parse_named, parse_repository, validate_tag
from berth.registry.client import platforms
from berth.registry.client.tags import list_tags
from berth.store import rootview
from berth.store.content import ContentStore, Info
from berth.store.metadata.blob_sources import BlobSources
from berth.store.metadata.db import Database
from berth.store.metadata.images import ImageRecord, ImageStore, LayerRecord
from berth.store.metadata.leases import Leases
from berth.store.snapshots import Kind, Snapshotter

from . import bootstrap as bootstrap_mod
from . import history as history_mod
from . import load as load_mod
from . import pull as pull_mod
from . import push as push_mod
from .changes import apply_changes
from .delete import DeleteRequest, ImageDeleter, Users
from .filters import ImageFilters, select
from .image import Image, resolve
from .prune import ImagePruner, PruneFilters, PruneReport
from .pull import PullCallback, PullProgress, Step
from .push import PushCallback, PushedTag, PushProgress, PushStep
from .registries import AuthConfig, RegistryOptions
from .save import SavePlan, SaveSources, plan_save, write_archive
from .unpack import StackUnpacker, layer_blobs
from .writer import ImageWriter

T = TypeVar("T")


@dataclass(frozen=True)
class PullResult:
    image: Image
    reference: Reference  # what was pulled, tagged (``:latest`` by default) or by digest
    digest: str  # the top-level manifest (or index) the registry served
    updated: bool  # False: the reference already named this image


class ImageService:
    def __init__(self, root: Path, db: Database, snapshotter: Snapshotter,
                 registries: RegistryOptions | None = None, bootstrap_mirror: str = "") -> None:
        self.registries = registries or RegistryOptions()
        self._bootstrap_options = bootstrap_mod.BootstrapOptions(
            workdir=root / "bootstrap", mirror=bootstrap_mirror)
        bootstrap_mod.remove_scratch(self._bootstrap_options)  # a daemon killed mid-bootstrap
        self._sources = BlobSources(db)  # where blobs were seen, for cross-repository mounts
        self._content = ContentStore(root)
        self._content.cleanup()  # before any writer: keeps only resumable downloads
        self._store = ImageStore(db)
        self._snapshotter = snapshotter
        self._leases = Leases(db)  # blobs of unfinished pulls
        self._writer = ImageWriter(self._content, self._store, snapshotter, self._leases)
        self._deleter = ImageDeleter(self._store, self._writer.collect_garbage)
        self._lock = asyncio.Lock()
        # layers being unpacked at once, by all pulls (unpack.py): one per core
        self._unpacking = asyncio.Semaphore(os.cpu_count() or 1)

    # lookup

    def _resolve(self, ref_or_id: str) -> ImageRecord:
        return resolve(ref_or_id, self._by_reference, self._store.find_images)

    def _by_reference(self, ref: Reference) -> ImageRecord | None:
        image_id = self._store.resolve_tag(ref.with_default_tag().string())
        if image_id is None and ref.digest is not None:
            image_id = next((i.id for i in self._store.list_images()
                             if i.manifest_digest == ref.digest), None)
        return self._store.get_image(image_id) if image_id is not None else None

    def _image(self, record: ImageRecord) -> Image:
        config = cast(ImageConfig, json.loads(self._content.read(record.config_digest)))
        refs = [parse(name) for name in self._store.tags_of(record.id)]
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

    def _list(self, all: bool, filters: ImageFilters | None = None) -> list[Image]:
        images = [self._image(r) for r in self._store.list_images()]
        if filters is not None:
            return select(images, filters, all, lambda ref: self._get(ref).created)
        if all:
            return images
        parents = {i.parent for i in images if i.parent}
        return [i for i in images if i.repo_tags or i.repo_digests or i.id not in parents]

    async def list(self, all: bool = False, filters: ImageFilters | None = None
                   ) -> builtins.list[Image]:
        return await asyncio.to_thread(self._list, all, filters)

    # changes

    def _tag(self, source: str, repo: str, tag: str) -> None:
        record = self._resolve(source)
        target = parse_repository(repo).with_tag(validate_tag(tag)) if tag \
            else parse_named(repo)
        self._store.set_tag(target.string(), record.id)

    async def tag(self, source: str, repo: str, tag: str) -> None:
        async with self._lock:
            await asyncio.to_thread(self._tag, source, repo, tag)

    async def remove(self, ref: str, force: bool, users: Callable[[str], Users],
                     prune: bool = True) -> builtins.list[tuple[str, str]]:
        """``docker rmi``; with ``prune`` (docker's default) the untagged parents go too.
        ``users`` is asked in the event loop, up front, for the image and its parents."""
        async with self._lock:
            record = await asyncio.to_thread(self._resolve, ref)
            parents = await asyncio.to_thread(self._ancestors, record) if prune else []
            table = {p: users(p) for p in parents}
            request = DeleteRequest(text=ref, image=record, force=force, users=users(record.id),
                                    prune=prune, parent_users=lambda i: table.get(i, []))
            return await asyncio.to_thread(self._deleter.delete, request)

    def _ancestors(self, record: ImageRecord) -> builtins.list[str]:
        """The ids of ``record``'s parent, its parent's parent, and so on."""
        out: builtins.list[str] = []
        parent = self._store.get_image(record.parent) if record.parent else None
        while parent is not None and parent.id not in out:
            out.append(parent.id)
            parent = self._store.get_image(parent.parent) if parent.parent else None
        return out

    async def _spool(self, chunks: AsyncIterator[bytes]) -> Info:
        """Stream ``chunks`` into the content store, 1 MiB at a time."""
        writer = await asyncio.to_thread(self._content.writer)
        try:
            await streams.write_blocks(chunks, writer.write)
            return await asyncio.to_thread(writer.commit)
        finally:
            writer.abort()

    def _import(self, blob: Info, ref: Reference | None, container: ContainerConfig,
                message: str) -> Image:
        layer = self._writer.unpack(blob.digest, None)
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        history: dict[str, str] = {"created": created, "created_by": "berth import"}
        if message:
            history["comment"] = message
        config: ImageConfig = {
            "architecture": bootstrap_mod.architecture(), "os": "linux", "created": created,
            "config": container, "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
            "history": [history],  # type: ignore[list-item]
        }
        record = self._writer.create_image(config, [self._writer.layer_descriptor(blob.digest)],
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
                await asyncio.to_thread(self._writer.collect_garbage)

    def _bootstrap(self, ref: Reference, source: bootstrap_mod.LayerSource) -> Image:
        with self._content.writer() as w:
            base = source.write(w)
            blob = w.commit()
        layer = self._writer.unpack(blob.digest, None, expected_diff_id=blob.digest)
        config = bootstrap_mod.image_config(layer.diff_id, base)
        descriptor = self._writer.layer_descriptor(blob.digest)
        return self._image(self._writer.create_image(config, [descriptor], [layer], [ref]))

    async def bootstrap(self, name: str, mirror: str = "",
                        progress: bootstrap_mod.BootstrapProgress | None = None) -> Image:
        """Build ``name`` (``busybox``, ``debian:bookworm``) on the host; ``mirror`` overrides
        the daemon's Debian mirror. Bad input raises before ``progress`` is first called."""
        ref = parse_named(name)
        options = replace(self._bootstrap_options, mirror=mirror) if mirror \
            else self._bootstrap_options
        recipe = bootstrap_mod.recipe(ref, options)
        async with recipe.build(progress or bootstrap_mod.no_progress) as source, self._lock:
            return await asyncio.to_thread(self._bootstrap, ref, source)

    async def locked(self, change: Callable[[], T]) -> T:
        """Run blocking store work (the builder's ``LayerCommitter`` calls) in a thread
        under the write lock, so garbage collection never sees its half-made layers and
        images."""
        async with self._lock:
            return await asyncio.to_thread(change)

    # the builder's seam (engine/builder/backend.py): blocking, run in the builder's
    # threads; the writes only inside ``locked``

    def image_record(self, image_id: str) -> ImageRecord | None:
        return self._store.get_image(image_id)

    def image_children(self, image_id: str) -> builtins.list[str]:
        return self._store.children(image_id)

    def read_blob(self, digest: str) -> bytes:
        return self._content.read(digest)

    def layer(self, chain_id: str) -> LayerRecord | None:
        return self._store.get_layer(chain_id)

    def snapshot_mounts(self, key: str) -> builtins.list[Mount]:
        return self._snapshotter.mounts(key)

    @property
    def changes_only(self) -> bool:
        return self._snapshotter.changes_only

    def commit_layer(self, upper: Path, parent: LayerRecord | None
                     ) -> tuple[LayerRecord, Descriptor]:
        return self._writer.commit_upper(upper, parent)

    def create_image(self, config: ImageConfig, blobs: builtins.list[Descriptor],
                     layers: builtins.list[LayerRecord], tags: Iterable[Reference],
                     parent: str = "") -> ImageRecord:
        return self._writer.create_image(config, blobs, layers, tags, parent)

    def set_tag(self, ref: Reference, image_id: str) -> None:
        self._store.set_tag(ref.string(), image_id)

    def prepare_snapshot(self, key: str, parent: str | None) -> Path:
        self._snapshotter.prepare(key, parent)
        return self.writable_path(key)

    def writable_path(self, key: str) -> Path:
        return Path(self._snapshotter.writable_path(key))

    def remove_snapshot(self, key: str) -> None:
        self._remove_rootfs(key)

    # registries

    async def pull(self, name: str, progress: PullCallback | None = None,
                   auth: AuthConfig | None = None, platform: str = "") -> PullResult:
        """Pull ``name`` (``busybox``, ``localhost:5000/x:1``, ``x@sha256:...``) from the
        first of its registry's mirrors that has it, else the registry itself; from an
        index, the entry for ``platform`` (``os/arch[/variant]``; default: this host's).

        Registry errors before the first progress event (no such manifest, an unreachable
        registry) are raised before ``progress`` is ever called."""
        ref = parse_named(name).with_default_tag()
        wanted = platforms.parse(platform) if platform else None
        relay = pull_mod.Relay(progress)
        lease = ref.string()

        async def hold(digests: builtins.list[str]) -> None:
            await asyncio.to_thread(self._leases.take, lease, digests)

        try:
            async with self.registries.pull_session(ref, auth) as session, relay:
                unpacker = StackUnpacker(self._writer, self._unpacking)
                try:  # layers unpack as they land, and stack once all are in
                    fetched = await pull_mod.fetch(session, ref, self._content, relay, wanted,
                                                   hold, unpacker)
                    async with self._lock:
                        await pull_mod.refetch_missing(session, ref, self._content, fetched)
                        result = await self._install(ref, fetched, relay, unpacker)
                        await asyncio.to_thread(self._leases.release, lease)
                except BaseException:
                    await unpacker.abort()
                    raise
        except Unavailable as err:  # docker answers 500 with the connection error
            raise BerthError(err.message) from err
        blobs = [fetched.config.digest, *(layer.digest for layer in fetched.layers)]
        await asyncio.to_thread(self._sources.add, ref.domain, ref.path, blobs)
        return result

    async def registry_tags(self, name: str, auth: AuthConfig | None = None
                            ) -> builtins.list[str]:
        """The tags the registry of repository ``name`` lists for it (``pull -a``)."""
        ref = parse_repository(name)
        try:
            async with self.registries.session(ref, auth) as session:
                return await list_tags(session, ref)
        except Unavailable as err:
            raise BerthError(err.message) from err

    async def push(self, name: str, tag: str = "", progress: PushCallback | None = None,
                   auth: AuthConfig | None = None) -> builtins.list[PushedTag]:
        """Push ``name`` (with ``tag``, or every tag of the repository) to its registry.
        A missing image raises before ``progress`` is ever called."""
        targets = await asyncio.to_thread(push_mod.targets, self._store, name, tag)
        relay = pull_mod.Relay(progress)
        pushed = []
        async with relay:
            relay.emit(PushProgress(PushStep.STARTED, detail=targets[0][0].name))
            async with self.registries.session(targets[0][0], auth) as session:
                for ref, record in targets:
                    assert record.manifest_digest is not None  # targets() checks
                    image = await asyncio.to_thread(push_mod.load, self._content,
                                                    record.manifest_digest)
                    blobs = [image.config.digest, *(layer.digest for layer in image.layers)]
                    mounts = await asyncio.to_thread(self._sources.holding, ref.domain, blobs)
                    done = await push_mod.push(session, ref, image, self._content, mounts,
                                               relay)
                    await asyncio.to_thread(self._pushed, ref, record.id, blobs, done)
                    pushed.append(done)
        return pushed

    def _pushed(self, ref: Reference, image_id: str, blobs: builtins.list[str],
                done: PushedTag) -> None:
        """Remember the blobs as present in ``ref``'s repository, and name the image by
        the pushed digest (``RepoDigests``), as dockerd does."""
        self._sources.add(ref.domain, ref.path, blobs)
        if self._store.get_image(image_id) is not None:
            self._store.set_tag(replace(ref, tag=None, digest=done.digest).string(), image_id)

    async def login(self, auth: AuthConfig) -> None:
        await self.registries.login(auth)

    async def _install(self, ref: Reference, fetched: pull_mod.Fetched,
                       relay: pull_mod.Relay[PullProgress], unpacker: StackUnpacker
                       ) -> PullResult:
        blobs = await asyncio.to_thread(layer_blobs, self._content, fetched)

        def unpacked(i: int) -> None:
            blob = fetched.layers[i]
            if blob.digest in fetched.downloaded:
                relay.emit(PullProgress(Step.COMPLETE, blob.digest, blob.size, blob.size))

        layers = await unpacker.stack(blobs, unpacked)
        tags = [ref, replace(ref, tag=None, digest=fetched.top.digest)]
        if ref.digest is not None:
            tags = [ref]
        shown = tags[0].string()
        before = await asyncio.to_thread(self._store.resolve_tag, shown)

        def record() -> Image:
            config = cast(ImageConfig, json.loads(self._content.read(fetched.config.digest)))
            blobs = [b.digest for b in fetched.layers]
            if fetched.top.digest != fetched.manifest.digest:
                blobs.append(fetched.top.digest)
            return self._image(self._writer.record_image(
                fetched.config.digest, fetched.manifest.digest, config.get("created", ""),
                layers, blobs, tags))

        image = await asyncio.to_thread(record)
        return PullResult(image, ref, fetched.top.digest, before != image.id)

    # container root filesystems

    def _prepare_rootfs(self, image_id: str, key: str) -> builtins.list[Mount]:
        image = self._get(image_id)
        parent = None
        if image.chain_id is not None:
            layer = self._store.get_layer(image.chain_id)
            if layer is None:
                raise NotFound(f"layer {image.chain_id} of image {image.id} is not unpacked")
            parent = layer.snapshot
        return self._snapshotter.prepare(key, parent)

    async def prepare_rootfs(self, image_id: str, key: str) -> builtins.list[Mount]:
        async with self._lock:
            return await asyncio.to_thread(self._prepare_rootfs, image_id, key)

    async def rootfs_mounts(self, key: str) -> builtins.list[Mount]:
        return await asyncio.to_thread(self._snapshotter.mounts, key)

    def _remove_rootfs(self, key: str) -> None:
        try:
            self._snapshotter.remove(key)
        except NotFound:
            pass

    async def remove_rootfs(self, key: str) -> None:
        async with self._lock:
            await asyncio.to_thread(self._remove_rootfs, key)

    async def prune_rootfs(self, keep: set[str]) -> builtins.list[str]:
        """Remove writable snapshots that no container owns (a crash between preparing a
        rootfs and recording its container), directories no snapshot names, then the
        layers and blobs no image holds (a commit, build or load killed before its image
        was recorded)."""
        async with self._lock:
            return await asyncio.to_thread(self._prune_rootfs, keep)

    def _prune_rootfs(self, keep: set[str]) -> builtins.list[str]:
        doomed = [i.key for i in self._snapshotter.walk()
                  if i.kind is not Kind.COMMITTED and i.key not in keep]
        for key in reversed(doomed):  # children before parents
            self._remove_rootfs(key)
        self._snapshotter.cleanup()
        self._writer.collect_garbage()
        return doomed

    async def rootfs_usage(self, key: str) -> int:
        return await asyncio.to_thread(self._snapshotter.usage, key)

    # archives (save/load), history, prune, export

    async def save(self, names: builtins.list[str]) -> AsyncGenerator[bytes, None]:
        """``docker save``: the archive's chunks; a missing name raises before the first."""
        sources = SaveSources(self._store, self._content, self._resolve, self._content.ingest_dir)
        async with self._lock:  # the blobs are open before rmi could collect them
            plan = await asyncio.to_thread(plan_save, sources, names)
        return self._stream_archive(plan)

    async def _stream_archive(self, plan: SavePlan) -> AsyncGenerator[bytes, None]:
        try:
            async for chunk in streams.from_thread(lambda out: write_archive(plan, out)):
                yield chunk
        finally:
            plan.close()

    async def load(self, body: AsyncIterator[bytes], emit: load_mod.LoadCallback) -> None:
        """``docker load``: all the archive's images, or (a bad archive) none of them."""
        archive = await load_mod.spool(body, self._content.ingest_dir)
        try:
            async with self._lock:
                try:
                    await load_mod.ImageLoader(self._writer, emit).load(archive)
                finally:
                    await asyncio.to_thread(self._writer.collect_garbage)
        finally:
            archive.close()

    def _history(self, name: str) -> builtins.list[history_mod.HistoryItem]:
        def size(chain_id: str) -> int:
            layer = self._store.get_layer(chain_id)
            return layer.size if layer is not None else 0

        def parent_of(image_id: str) -> Image | None:
            record = self._store.get_image(image_id)
            return self._image(record) if record is not None else None

        return history_mod.history(self._get(name), size, parent_of)

    def _layer_sizes(self, image: Image) -> builtins.list[tuple[str, int]]:
        sizes = []
        for chain_id in chain_ids(image.diff_ids):
            layer = self._store.get_layer(chain_id)
            sizes.append((chain_id, layer.size if layer is not None else 0))
        return sizes

    async def layer_sizes(self, image: Image) -> builtins.list[tuple[str, int]]:
        """``(chain id, bytes unpacked)`` of each layer of ``image``, bottom first."""
        return await asyncio.to_thread(self._layer_sizes, image)

    def _blob_sizes(self, image: Image) -> builtins.list[tuple[str, int]]:
        out = []
        for digest in self._store.blobs_of(image.id):
            with contextlib.suppress(NotFound):  # a pull's blob not kept (an index's)
                out.append((digest, self._content.info(digest).size))
        return out

    async def blob_sizes(self, image: Image) -> builtins.list[tuple[str, int]]:
        """``(digest, bytes)`` of each blob ``image`` keeps in the content store."""
        return await asyncio.to_thread(self._blob_sizes, image)

    async def history(self, name: str) -> builtins.list[history_mod.HistoryItem]:
        return await asyncio.to_thread(self._history, name)

    async def prune(self, filters: PruneFilters, users: Callable[[str], Users]) -> PruneReport:
        """``docker image prune``; ``users`` is asked in the event loop, up front."""
        pruner = ImagePruner(self._store, self._labels, self._writer.collect_garbage)
        async with self._lock:
            records = await asyncio.to_thread(self._store.list_images)
            table = {r.id: users(r.id) for r in records}
            return await asyncio.to_thread(pruner.prune, filters, lambda i: table.get(i, []))

    def _labels(self, record: ImageRecord) -> dict[str, str]:
        return dict(self._image(record).config.get("config", {}).get("Labels") or {})

    async def export_rootfs(self, key: str) -> AsyncGenerator[bytes, None]:
        """``docker export``: the merged root filesystem of snapshot ``key`` as a tar."""
        mounts = await asyncio.to_thread(self._snapshotter.mounts, key)
        return streams.from_thread(lambda out: rootview.export_tar(mounts, out))
