"""Whole images: ``pull`` and ``push`` walk the manifest graph with the three parts.

::

    pull:  resolve ref ──▶ index? fetch it, pick this platform ──▶ manifest
           ──▶ config + layers (bounded concurrency) ──▶ manifest (and index) into the sink
    push:  blobs (config + layers, concurrently) ──▶ each manifest by digest ──▶ the
           top-level manifest or index under the tag

Blobs are stored before the manifests that name them, so a sink never holds a manifest
whose blobs are missing (the same rule the registry applies to a push).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from berth.oci.reference import Reference
from berth.registry.client import platforms
from berth.registry.client.descriptor import (
    Descriptor,
    Platform,
    parse_index,
    parse_manifest,
)
from berth.registry.client.fetcher import BlobSink, Fetcher, first_error
from berth.registry.client.progress import ProgressCallback, ignore
from berth.registry.client.pusher import BlobSource, Pusher
from berth.registry.client.resolver import Resolver
from berth.registry.client.session import RegistrySession


@dataclass(frozen=True)
class PulledImage:
    manifest: Descriptor  # this platform's image manifest
    index: Descriptor | None  # the index or manifest list it was chosen from
    config: Descriptor
    layers: tuple[Descriptor, ...]


async def pull(session: RegistrySession, ref: Reference, sink: BlobSink,
               platform: Platform | None = None, progress: ProgressCallback = ignore,
               max_concurrent: int = 3) -> PulledImage:
    resolver = Resolver(session)
    fetcher = Fetcher(session, max_concurrent)
    top = await resolver.resolve(ref)
    index_data = None
    manifest_desc, index = top, None
    if top.is_index:
        index_data = await resolver.fetch_manifest(ref, top)
        manifest_desc, index = platforms.select(parse_index(index_data), platform), top
    manifest_data = await resolver.fetch_manifest(ref, manifest_desc)
    manifest = parse_manifest(manifest_data)
    await fetcher.fetch_all(ref, (manifest.config, *manifest.layers), sink, progress)
    await asyncio.to_thread(_store, sink, manifest_desc, manifest_data)
    if index is not None and index_data is not None:
        await asyncio.to_thread(_store, sink, index, index_data)
    return PulledImage(manifest_desc, index, manifest.config, manifest.layers)


def _store(sink: BlobSink, desc: Descriptor, data: bytes) -> None:
    """A manifest already verified by ``fetch_manifest``, committed through the sink."""
    if sink.exists(desc.digest):
        return
    writer = sink.writer(desc.digest, desc.size)
    try:
        writer.write(data)
        writer.commit()
    except BaseException:
        writer.abort()
        raise


async def push(session: RegistrySession, ref: Reference, desc: Descriptor,
               source: BlobSource, mount_from: Mapping[str, str] | None = None,
               progress: ProgressCallback = ignore, max_concurrent: int = 3) -> str:
    """Push the image ``desc`` (manifest or index, read from ``source``) under ``ref``.

    ``mount_from`` maps a blob digest to another repository of the same registry that has
    it. Returns the digest of the top-level document."""
    pusher = Pusher(session)
    limit = asyncio.Semaphore(max_concurrent)
    await _push_tree(pusher, ref, desc, source, mount_from or {}, progress, limit)
    data = await asyncio.to_thread(_read, source, desc.digest)
    return await pusher.push_manifest(ref, desc.media_type, data)


async def _push_tree(pusher: Pusher, ref: Reference, desc: Descriptor, source: BlobSource,
                     mount_from: Mapping[str, str], progress: ProgressCallback,
                     limit: asyncio.Semaphore) -> None:
    """Everything ``desc`` names, children first; not ``desc`` itself."""
    data = await asyncio.to_thread(_read, source, desc.digest)
    if desc.is_index:
        for child in parse_index(data):
            await _push_tree(pusher, ref, child, source, mount_from, progress, limit)
            child_data = await asyncio.to_thread(_read, source, child.digest)
            await pusher.push_manifest(ref, child.media_type, child_data, by_digest=True)
        return
    manifest = parse_manifest(data)

    async def one(blob: Descriptor) -> None:
        async with limit:
            await pusher.push_blob(ref, blob, source, mount_from.get(blob.digest), progress)

    blobs = {b.digest: b for b in (manifest.config, *manifest.layers)}.values()
    try:
        async with asyncio.TaskGroup() as tasks:
            for blob in blobs:
                tasks.create_task(one(blob))
    except BaseExceptionGroup as group:
        raise first_error(group) from None


def _read(source: BlobSource, digest: str) -> bytes:
    with source.open(digest) as f:
        return f.read()
