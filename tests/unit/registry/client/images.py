"""Small OCI images built in a test's ContentStore, and a registry server fixture."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator

from aiohttp import web
from tests.unit.registry.server.harness import ServerThread

from berth.oci import image
from berth.registry.client import Descriptor
from berth.store.content import ContentStore


def put(store: ContentStore, media_type: str, data: bytes) -> Descriptor:
    info = store.write_blob(data)
    return Descriptor(media_type, info.digest, info.size)


def _doc(desc: Descriptor) -> dict[str, object]:
    return {"mediaType": desc.media_type, "digest": desc.digest, "size": desc.size}


def make_image(store: ContentStore, arch: str = "amd64", layer_size: int = 4096
               ) -> Descriptor:
    """A two-layer OCI image (random layer bytes, so tests never share blobs by accident)."""
    layers = [put(store, image.MEDIA_TYPE_OCI_LAYER, os.urandom(layer_size)) for _ in range(2)]
    config = put(store, image.MEDIA_TYPE_OCI_CONFIG, json.dumps({
        "architecture": arch, "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [d.digest for d in layers]},
    }).encode())
    manifest = {"schemaVersion": 2, "mediaType": image.MEDIA_TYPE_OCI_MANIFEST,
                "config": _doc(config), "layers": [_doc(d) for d in layers]}
    return put(store, image.MEDIA_TYPE_OCI_MANIFEST, json.dumps(manifest).encode())


def make_index(store: ContentStore, manifests: dict[str, Descriptor]) -> Descriptor:
    entries = []
    for arch, desc in manifests.items():
        os_, architecture, *variant = arch.split("/")
        platform = {"os": os_, "architecture": architecture}
        if variant:
            platform["variant"] = variant[0]
        entries.append({**_doc(desc), "platform": platform})
    index = {"schemaVersion": 2, "mediaType": image.MEDIA_TYPE_OCI_INDEX, "manifests": entries}
    return put(store, image.MEDIA_TYPE_OCI_INDEX, json.dumps(index).encode())


def blobs_of(store: ContentStore) -> set[str]:
    return {info.digest for info in store.walk()}


def ingests_of(store: ContentStore) -> list[str]:
    return os.listdir(store.ingest_dir)


@contextlib.contextmanager
def serving(app: web.Application) -> Iterator[int]:
    """``app`` on 127.0.0.1:<random port>, stopped on exit; yields the port."""
    server = ServerThread(app)
    try:
        yield server.start()
    finally:
        server.stop()
