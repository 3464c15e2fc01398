"""Descriptors as the client hands them out, and the manifest documents it walks.

A registry's JSON is parsed here, once, into frozen values; nothing above this module sees
a ``dict``. The bytes themselves are never re-serialized: a manifest's digest is the digest
of exactly the bytes the registry served (and the ones we push).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from berth.errors import InvalidArgument
from berth.oci import digest as digests
from berth.oci import image

MANIFEST_TYPES = (image.MEDIA_TYPE_OCI_MANIFEST, image.MEDIA_TYPE_DOCKER_MANIFEST)
INDEX_TYPES = (image.MEDIA_TYPE_OCI_INDEX, image.MEDIA_TYPE_DOCKER_MANIFEST_LIST)
# What a resolve asks for, most wanted first (containerd's resolver sends the same four).
ACCEPT = ", ".join((*MANIFEST_TYPES, *INDEX_TYPES))
MAX_MANIFEST_SIZE = 4 * 1024 * 1024  # distribution's limit; a bigger "manifest" is refused


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    @property
    def is_manifest(self) -> bool:
        return self.media_type in MANIFEST_TYPES


def parse_descriptor(obj: object) -> Descriptor:
    if not isinstance(obj, dict):
        raise InvalidArgument("invalid descriptor: not an object")
    media_type, digest, size = obj.get("mediaType"), obj.get("digest"), obj.get("size")
    if not isinstance(media_type, str) or not isinstance(digest, str) \
            or not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidArgument(f"invalid descriptor: {obj!r}")
    platform = None
    raw = obj.get("platform")
    if isinstance(raw, dict):
        platform = Platform(str(raw.get("os", "")), str(raw.get("architecture", "")),
                            str(raw.get("variant", "")))
    return Descriptor(media_type, digests.validate(digest), size, platform)


def _document(data: bytes) -> dict[str, object]:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise InvalidArgument(f"invalid manifest: {err}") from err
    if not isinstance(doc, dict):
        raise InvalidArgument("invalid manifest: not an object")
    return doc


def media_type_of(data: bytes, content_type: str | None) -> str:
    """The media type of a manifest: the response's Content-Type unless it is generic, else
    the document's own ``mediaType`` (an OCI manifest may omit it: then its shape decides)."""
    if content_type and content_type not in ("application/json", "application/octet-stream"):
        return content_type
    doc = _document(data)
    declared = doc.get("mediaType")
    if isinstance(declared, str):
        return declared
    return image.MEDIA_TYPE_OCI_INDEX if "manifests" in doc else image.MEDIA_TYPE_OCI_MANIFEST


@dataclass(frozen=True)
class ImageManifest:
    config: Descriptor
    layers: tuple[Descriptor, ...]


def parse_manifest(data: bytes) -> ImageManifest:
    doc = _document(data)
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise InvalidArgument("invalid manifest: no layers")
    return ImageManifest(parse_descriptor(doc.get("config")),
                         tuple(parse_descriptor(layer) for layer in layers))


def require_image(manifest: ImageManifest) -> None:
    """Refuse a manifest that is not a container image Berth can unpack (a Helm chart, an
    artifact, a layer compressed some unknown way) before any of its blobs is fetched."""
    if manifest.config.media_type not in image.CONFIG_TYPES:
        raise InvalidArgument(f"unsupported media type {manifest.config.media_type} for "
                              f"the image config {manifest.config.digest}")
    for layer in manifest.layers:
        if layer.media_type not in image.LAYER_COMPRESSION:
            raise InvalidArgument(f"unsupported media type {layer.media_type} for layer "
                                  f"{layer.digest}")


def parse_index(data: bytes) -> tuple[Descriptor, ...]:
    manifests = _document(data).get("manifests")
    if not isinstance(manifests, list):
        raise InvalidArgument("invalid index: no manifests")
    return tuple(parse_descriptor(m) for m in manifests)
