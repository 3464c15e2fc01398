"""Images made by a test and pushed to a registry with the registry client: busybox (the
daemon's bootstrapped layer) plus layers of the test's own, in any layer media type, as an
OCI or Docker manifest, optionally inside an index."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import zstandard

from berth.oci import image
from berth.oci.reference import parse_named
from berth.registry.client import Descriptor, RegistrySession, push
from tests.compat.daemon import Daemon, inspect, registry_server
from tests.compat.registry_proxy import Fault, RegistryProxy, registry_proxy
from tests.tarballs import tar_of

COMPRESS = {"": lambda data: data, "gzip": lambda data: gzip.compress(data, mtime=0),
            "zstd": lambda data: zstandard.ZstdCompressor().compress(data)}


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Layer:
    tar: bytes  # uncompressed
    media_type: str = image.MEDIA_TYPE_OCI_LAYER_GZIP

    @property
    def blob(self) -> bytes:
        return COMPRESS[image.LAYER_COMPRESSION.get(self.media_type, "")](self.tar)


@dataclass
class Blobs:
    """A ``BlobSource`` over bytes the test made."""

    data: dict[str, bytes] = field(default_factory=dict)

    def add(self, blob: bytes) -> str:
        digest = digest_of(blob)
        self.data[digest] = blob
        return digest

    def open(self, digest: str) -> BinaryIO:
        return io.BytesIO(self.data[digest])


@dataclass
class Image:
    desc: Descriptor  # the manifest (or index) to push
    blobs: Blobs
    layers: list[Descriptor]  # the last manifest's layer blobs


def busybox_tar(daemon: Daemon) -> bytes:
    diff_id = str(inspect(daemon, "busybox")["RootFS"]["Layers"][0])  # type: ignore[index]
    return (daemon.data_root / "content/blobs/sha256" / diff_id.split(":")[1]).read_bytes()


def make_image(daemon: Daemon, layers: list[Layer], blobs: Blobs | None = None,
               manifest_type: str = image.MEDIA_TYPE_OCI_MANIFEST,
               architecture: str = "amd64") -> Image:
    """busybox, then ``layers``: each layer's blob in its media type's compression."""
    blobs = blobs or Blobs()
    config_type = image.MEDIA_TYPE_OCI_CONFIG if manifest_type == image.MEDIA_TYPE_OCI_MANIFEST \
        else image.MEDIA_TYPE_DOCKER_CONFIG
    all_layers = [Layer(busybox_tar(daemon), image.MEDIA_TYPE_OCI_LAYER_GZIP), *layers]
    descs = []
    for layer in all_layers:
        blob = layer.blob
        descs.append(Descriptor(layer.media_type, blobs.add(blob), len(blob)))
    config = json.dumps({
        "architecture": architecture, "os": "linux", "created": "2026-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [digest_of(x.tar) for x in all_layers]},
        "history": [{"created_by": f"layer {i}"} for i in range(len(all_layers))],
    }).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": manifest_type,
        "config": {"mediaType": config_type, "digest": blobs.add(config),
                   "size": len(config)},
        "layers": [{"mediaType": d.media_type, "digest": d.digest, "size": d.size}
                   for d in descs]}).encode()
    return Image(Descriptor(manifest_type, blobs.add(manifest), len(manifest)), blobs, descs)


def make_index(images: dict[str, Image]) -> Image:
    """An OCI index over ``{"linux/arm64": image, ...}`` (their blobs shared)."""
    blobs = Blobs()
    entries = []
    for platform, img in images.items():
        blobs.data.update(img.blobs.data)
        os_, arch, *variant = platform.split("/")
        entries.append({"mediaType": img.desc.media_type, "digest": img.desc.digest,
                        "size": img.desc.size,
                        "platform": {"os": os_, "architecture": arch,
                                     **({"variant": variant[0]} if variant else {})}})
    index = json.dumps({"schemaVersion": 2, "mediaType": image.MEDIA_TYPE_OCI_INDEX,
                        "manifests": entries}).encode()
    desc = Descriptor(image.MEDIA_TYPE_OCI_INDEX, blobs.add(index), len(index))
    return Image(desc, blobs, [])


def push_image(registry: str, repo_tag: str, img: Image) -> str:
    """Push ``img`` as ``registry/repo_tag``; returns the pushed digest."""
    async def go() -> str:
        async with RegistrySession() as session:
            return await push(session, parse_named(f"{registry}/{repo_tag}"), img.desc,
                              img.blobs)

    return asyncio.run(go())


def hello_layer(text: str, media_type: str = image.MEDIA_TYPE_OCI_LAYER_GZIP) -> Layer:
    return Layer(tar_of({"hello.txt": text.encode()}), media_type)


@contextmanager
def throttled_upstream(daemon: Daemon, root: Path, repo_tag: str, hello: str, big: bytes,
                       rate: int) -> Iterator[tuple[str, Image, RegistryProxy]]:
    """A registry at ``root`` holding busybox, a ``hello_layer(hello)`` and a plain layer
    with ``big`` as /big, as ``repo_tag``, behind a proxy that serves the big layer at
    ``rate`` bytes/s: yields the reference through the proxy, the image and the proxy."""
    img = make_image(daemon, [hello_layer(hello),
                              Layer(tar_of({"big": big}), image.MEDIA_TYPE_OCI_LAYER)])
    with registry_server(root) as upstream, registry_proxy(upstream) as (address, proxy):
        push_image(upstream, repo_tag, img)
        proxy.faults[img.layers[2].digest] = Fault("throttle", rate=rate)
        yield f"{address}/{repo_tag}", img, proxy
