"""Pushing an image to a registry (moby's ``distribution/push_v2``) with the registry client::

    manifest (as stored: a pulled image keeps the registry's bytes, so its digest is the
    same wherever it is pushed) ──▶ config + layers
        every layer: Preparing ──▶ (Waiting for one of 5 upload slots) ──▶ HEAD: there?
            "Layer already exists" │ a sibling repository of this registry had it
            (pulled from there, or pushed there): mount ──▶ "Mounted from <repo>"
            │ else upload, "Pushing" with bytes ──▶ "Pushed"
        config ──▶ manifest under the tag ──▶ "<tag>: digest: <digest> size: <bytes>"

Layers are named in progress by their diff id, as docker names them. Afterwards every blob
is remembered as present in the target repository (``store.metadata.blob_sources``), so
the next push of the same layers to another repository of the registry mounts them.
"""

from __future__ import annotations

import asyncio
import enum
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from berth.errors import InvalidArgument, NotFound
from berth.oci import digest as digests
from berth.oci.reference import DEFAULT_TAG, Reference, parse
from berth.registry.client.descriptor import (
    Descriptor,
    media_type_of,
    parse_manifest,
)
from berth.registry.client.fetcher import first_error
from berth.registry.client.progress import Progress, State
from berth.registry.client.pusher import BlobSource, Pusher, PushResult
from berth.registry.client.session import RegistrySession
from berth.store.content import ContentStore
from berth.store.metadata.images import ImageRecord, ImageStore

from .pull import Relay

MAX_CONCURRENT_UPLOADS = 5  # dockerd's default --max-concurrent-uploads


class PushStep(enum.Enum):
    STARTED = "started"  # detail: the repository, before anything is sent
    PREPARING = "Preparing"
    WAITING = "Waiting"
    PUSHING = "Pushing"
    PUSHED = "Pushed"
    EXISTS = "Layer already exists"
    MOUNTED = "Mounted from"  # detail: the repository it was mounted from
    TAGGED = "tagged"  # detail: the tag; layer: the manifest digest; total: its size


@dataclass(frozen=True)
class PushProgress:
    step: PushStep
    layer: str = ""  # the layer's diff id (the manifest digest for TAGGED)
    current: int = 0
    total: int = 0
    detail: str = ""


PushCallback = Callable[[PushProgress], Awaitable[None]]


@dataclass(frozen=True)
class LocalImage:
    """An image as it will be pushed: the stored manifest's exact bytes and what it names."""

    manifest: Descriptor
    data: bytes
    config: Descriptor
    layers: tuple[Descriptor, ...]
    diff_ids: tuple[str, ...]


@dataclass(frozen=True)
class PushedTag:
    tag: str
    digest: str
    size: int


def targets(store: ImageStore, name: str, tag: str) -> list[tuple[Reference, ImageRecord]]:
    """What ``push name?tag=`` pushes: the one tag, or every tag of the repository when
    none is given (docker's push of a bare repository). Raises docker's NotFound words."""
    ref = parse(name)
    if tag:
        ref = replace(ref, tag=None, digest=tag) if tag.startswith("sha256:") \
            else ref.with_tag(tag)
    repo = replace(ref, tag=None, digest=None)
    tagged = []
    for tag_record in store.list_tags():
        named = parse(tag_record.name)
        if replace(named, tag=None, digest=None) == repo and named.tag is not None:
            tagged.append(named)
    if not tagged:
        raise NotFound(f"An image does not exist locally with the tag: {repo.familiar_name()}")
    wanted = [ref] if ref.tag is not None or ref.digest is not None else tagged
    out = []
    for target in wanted:
        image_id = store.resolve_tag(target.string())
        record = store.get_image(image_id) if image_id is not None else None
        if record is None or record.manifest_digest is None:
            raise NotFound(f"tag does not exist: {target.familiar()}")
        out.append((target, record))
    return out


def load(content: ContentStore, manifest_digest: str) -> LocalImage:
    """Read an image's manifest and config from the content store (synchronous)."""
    data = content.read(manifest_digest)
    manifest = parse_manifest(data)
    config = json.loads(content.read(manifest.config.digest))
    ids = config.get("rootfs", {}).get("diff_ids") if isinstance(config, dict) else None
    if not isinstance(ids, list) or len(ids) != len(manifest.layers):
        raise InvalidArgument(f"image config {manifest.config.digest}: rootfs.diff_ids does "
                              f"not match the manifest's {len(manifest.layers)} layers")
    desc = Descriptor(media_type_of(data, None), digests.sha256_digest(data), len(data))
    return LocalImage(desc, data, manifest.config, manifest.layers,
                      tuple(str(i) for i in ids))


def _distributable(layer: Descriptor) -> bool:
    """Foreign (Windows base) layers are never pushed, as docker skips them."""
    return "foreign" not in layer.media_type and "nondistributable" not in layer.media_type


@dataclass
class _Upload:
    """One push: maps the pusher's per-blob callbacks to docker's per-layer steps."""

    ref: Reference
    image: LocalImage
    source: BlobSource
    mount_from: Mapping[str, Sequence[str]]  # blob digest → repositories of this registry
    relay: Relay[PushProgress]

    async def layers(self, pusher: Pusher) -> None:
        diff_ids = {layer.digest: d for layer, d in zip(self.image.layers,
                                                        self.image.diff_ids, strict=True)}
        layers = {layer.digest: layer for layer in self.image.layers
                  if _distributable(layer)}.values()
        for layer in layers:
            self.relay.emit(PushProgress(PushStep.PREPARING, diff_ids[layer.digest]))
        limit = asyncio.Semaphore(MAX_CONCURRENT_UPLOADS)
        try:
            async with asyncio.TaskGroup() as tasks:
                for layer in layers:
                    tasks.create_task(self._layer(pusher, layer, diff_ids[layer.digest],
                                                  limit))
        except BaseExceptionGroup as group:
            raise first_error(group) from None

    async def _layer(self, pusher: Pusher, layer: Descriptor, diff_id: str,
                     limit: asyncio.Semaphore) -> None:
        if limit.locked():
            self.relay.emit(PushProgress(PushStep.WAITING, diff_id))
        mount = next((r for r in self.mount_from.get(layer.digest, ()) if r != self.ref.path),
                     None)

        def on_progress(p: Progress) -> None:
            if p.state is State.PUSHING:
                self.relay.emit(PushProgress(PushStep.PUSHING, diff_id, p.current, p.total))

        async with limit:
            result = await pusher.push_blob(self.ref, layer, self.source, mount, on_progress)
        if result is PushResult.EXISTS:
            self.relay.emit(PushProgress(PushStep.EXISTS, diff_id))
        elif result is PushResult.MOUNTED:
            self.relay.emit(PushProgress(PushStep.MOUNTED, diff_id, detail=mount or ""))
        else:
            self.relay.emit(PushProgress(PushStep.PUSHED, diff_id))


async def push(session: RegistrySession, ref: Reference, image: LocalImage,
               source: BlobSource, mount_from: Mapping[str, Sequence[str]],
               relay: Relay[PushProgress]) -> PushedTag:
    """Push ``image`` as ``ref`` (a tag, or a digest); layers first, then the config, then
    the manifest, which the registry accepts only once everything it names is there."""
    pusher = Pusher(session)
    await _Upload(ref, image, source, mount_from, relay).layers(pusher)
    await pusher.push_blob(ref, image.config, source,
                           next(iter(mount_from.get(image.config.digest, ())), None))
    digest = await pusher.push_manifest(ref, image.manifest.media_type, image.data)
    tag = ref.tag or ref.digest or DEFAULT_TAG
    relay.emit(PushProgress(PushStep.TAGGED, digest, total=image.manifest.size, detail=tag))
    return PushedTag(tag, digest, image.manifest.size)
