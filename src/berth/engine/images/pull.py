"""Pulling an image from a registry (moby's ``distribution/pull_v2``) with the registry
client, in two phases::

    fetch (no lock)    resolve ref ──▶ index? pick this platform ──▶ manifest ──▶ lease
                       ──▶ config ──▶ layers (bounded, verified, into the content store)
    install (locked)   store index + manifest as served ──▶ refetch what a concurrent GC
                       removed ──▶ unpack each layer on its parent (an unpacked chain id is
                       reused) ──▶ record the image under the registry's digests, tag it
                       ──▶ release the lease

The lease (``store.metadata.leases``, keyed by the reference) keeps fetched blobs from
garbage collection between a failed or killed pull and its retry; it expires after a day.

Downloads run outside the service lock so a slow registry does not block ``rmi`` or
``run``; everything that records state runs under it, as import and bootstrap do.
Progress is reported as ``PullProgress`` events, in order, through an async callback.
"""

from __future__ import annotations

import asyncio
import enum
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from berth.errors import InvalidArgument
from berth.oci.reference import Reference
from berth.registry.client import platforms
from berth.registry.client.descriptor import (
    Descriptor,
    Platform,
    parse_index,
    parse_manifest,
    require_image,
)
from berth.registry.client.fetcher import Fetcher
from berth.registry.client.progress import Progress, State
from berth.registry.client.resolver import Resolver
from berth.registry.client.session import RegistrySession
from berth.store.content import ContentStore


class Step(enum.Enum):
    RESOLVED = "resolved"  # digest: the top-level manifest or index
    WAITING = "Pulling fs layer"
    EXISTS = "Already exists"
    DOWNLOADING = "Downloading"
    DOWNLOADED = "Download complete"
    COMPLETE = "Pull complete"


@dataclass(frozen=True)
class PullProgress:
    step: Step
    digest: str  # a layer's blob digest, or the top-level digest for RESOLVED
    current: int = 0
    total: int = 0


PullCallback = Callable[[PullProgress], Awaitable[None]]

_STEPS = {State.EXISTS: Step.EXISTS, State.DOWNLOADING: Step.DOWNLOADING,
          State.DOWNLOADED: Step.DOWNLOADED}


Event = TypeVar("Event")


class Relay(Generic[Event]):
    """Orders events from synchronous callbacks onto one async callback, in a task of its
    own so a download (or an upload: ``push.py``) never waits for the client reading the
    progress."""

    def __init__(self, callback: Callable[[Event], Awaitable[None]] | None) -> None:
        self._callback = callback
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def emit(self, event: Event) -> None:
        if self._callback is not None:
            self._queue.put_nowait(event)

    async def __aenter__(self) -> Relay[Event]:
        if self._callback is not None:
            self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, exc_type: object, exc: BaseException | None,
                        tb: object) -> None:
        if self._task is None:
            return
        if exc is None:
            self._queue.put_nowait(None)
            await self._task
        elif isinstance(exc, Exception) and not self._task.done():
            # a failed transfer: what happened before the error still reaches the client
            self._queue.put_nowait(None)
            await asyncio.wait([self._task])
            if not self._task.cancelled():
                self._task.exception()  # retrieved: the transfer's error is the one raised
        else:
            self._task.cancel()

    async def _run(self) -> None:
        assert self._callback is not None
        while (event := await self._queue.get()) is not None:
            await self._callback(event)


@dataclass
class Fetched:
    top: Descriptor  # what the reference names: a manifest or an index
    manifest: Descriptor  # this platform's image manifest
    documents: dict[str, bytes]  # digest → the exact bytes of the index and the manifest
    config: Descriptor
    layers: tuple[Descriptor, ...]
    downloaded: set[str] = field(default_factory=set)  # layer digests fetched this time


Hold = Callable[[list[str]], Awaitable[None]]


class Landing(Protocol):
    """Told as a pull's blobs land (``unpack.StackUnpacker``)."""

    def fetched_config(self, fetched: Fetched) -> None:
        """The config is in the store; no layer is fetched yet."""

    def landed(self, digest: str) -> None:
        """Blob ``digest`` is in the store, verified."""


async def fetch(session: RegistrySession, ref: Reference, content: ContentStore,
                relay: Relay[PullProgress], platform: Platform | None = None,
                hold: Hold | None = None, landing: Landing | None = None) -> Fetched:
    """Everything the image needs into ``content``; refused before any blob is fetched if
    it is not an image Berth can run (unknown media types, no entry for ``platform``).
    ``hold`` is given the config and layer digests before any is fetched: the lease that
    keeps them from garbage collection until the image is recorded."""
    resolver = Resolver(session)
    fetcher = Fetcher(session)
    top = await resolver.resolve(ref)
    documents: dict[str, bytes] = {}
    manifest_desc = top
    if top.is_index:
        documents[top.digest] = await resolver.fetch_manifest(ref, top)
        manifest_desc = platforms.select(parse_index(documents[top.digest]), platform)
    if not manifest_desc.is_manifest:
        raise InvalidArgument(f"unsupported media type {manifest_desc.media_type} for the "
                              f"manifest of {ref}")
    documents[manifest_desc.digest] = await resolver.fetch_manifest(ref, manifest_desc)
    manifest = parse_manifest(documents[manifest_desc.digest])
    require_image(manifest)
    fetched = Fetched(top, manifest_desc, documents, manifest.config, manifest.layers)
    if hold is not None:
        await hold([manifest.config.digest, *(layer.digest for layer in manifest.layers)])
    relay.emit(PullProgress(Step.RESOLVED, top.digest))
    for layer in manifest.layers:
        relay.emit(PullProgress(Step.WAITING, layer.digest, 0, layer.size))

    def on_progress(p: Progress) -> None:
        step = _STEPS.get(p.state)
        if step is not None:
            if step is Step.DOWNLOADED:
                fetched.downloaded.add(p.digest)
            relay.emit(PullProgress(step, p.digest, p.current, p.total))
            if landing is not None and step in (Step.DOWNLOADED, Step.EXISTS):
                landing.landed(p.digest)

    await fetcher.fetch(ref, manifest.config, content)
    if landing is not None:
        landing.fetched_config(fetched)
    await fetcher.fetch_all(ref, manifest.layers, content, on_progress)
    return fetched


async def refetch_missing(session: RegistrySession, ref: Reference, content: ContentStore,
                          fetched: Fetched) -> None:
    """Under the lock: store the manifests and fetch again any blob that a garbage
    collection removed between the download and the lock."""
    def store_documents() -> list[Descriptor]:
        for digest, data in fetched.documents.items():
            if not content.exists(digest):
                content.write_blob(data, expected=digest)
        return [d for d in (fetched.config, *fetched.layers) if not content.exists(d.digest)]

    missing = await asyncio.to_thread(store_documents)
    if missing:
        await Fetcher(session).fetch_all(ref, missing, content)


def diff_ids(content: ContentStore, fetched: Fetched) -> list[str]:
    config = json.loads(content.read(fetched.config.digest))
    ids = config.get("rootfs", {}).get("diff_ids") if isinstance(config, dict) else None
    if not isinstance(ids, list) or len(ids) != len(fetched.layers) \
            or not all(isinstance(i, str) for i in ids):
        raise InvalidArgument(f"image config {fetched.config.digest}: rootfs.diff_ids does "
                              f"not match the manifest's {len(fetched.layers)} layers")
    return ids
