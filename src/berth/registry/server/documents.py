"""Reading manifests as the registry must: media type, references, subject.

The registry stores a manifest's bytes verbatim (their sha256 is its digest) and parses
them only to learn what a PUT must verify and what a GET must announce:

- image manifests (OCI, Docker schema 2) reference a config and layers, which must be blobs
  of the repository; layers carrying ``urls`` are non-distributable and are not checked
  (distribution's rule);
- indexes (OCI index, Docker manifest list) reference manifests of the repository;
- an OCI ``subject`` names the manifest this one refers to; it need not exist (spec 1.1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from berth.errors import InvalidArgument
from berth.oci import digest as digests
from berth.oci.image import (
    MEDIA_TYPE_DOCKER_MANIFEST,
    MEDIA_TYPE_DOCKER_MANIFEST_LIST,
    MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_OCI_MANIFEST,
)
from berth.registry.server.errcode import ErrorCode, RegistryError

IMAGE_MANIFEST_TYPES = frozenset({MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST})
INDEX_TYPES = frozenset({MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_DOCKER_MANIFEST_LIST})
MANIFEST_TYPES = IMAGE_MANIFEST_TYPES | INDEX_TYPES


@dataclass(frozen=True)
class DescriptorRef:
    """What a manifest points at: ``kind`` is ``blob`` or ``manifest``."""

    kind: str
    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParsedManifest:
    media_type: str
    references: tuple[DescriptorRef, ...]
    subject: DescriptorRef | None
    artifact_type: str | None
    annotations: dict[str, str]


def invalid(message: str, **detail: Any) -> RegistryError:
    return RegistryError(ErrorCode.MANIFEST_INVALID, message, detail=detail or None)


def _descriptor(raw: Any, kind: str, where: str) -> DescriptorRef:
    if not isinstance(raw, dict):
        raise invalid(f"{where} is not a descriptor")
    media_type, digest, size = raw.get("mediaType"), raw.get("digest"), raw.get("size")
    if not isinstance(media_type, str) or not isinstance(size, int) or size < 0 \
            or isinstance(size, bool) or not isinstance(digest, str):
        raise invalid(f"{where} needs mediaType, digest and a non-negative size")
    try:
        digests.validate(digest)
    except InvalidArgument as err:
        raise invalid(f"{where} has an invalid digest", digest=digest) from err
    urls = raw.get("urls") or ()
    if not isinstance(urls, list | tuple) or not all(isinstance(u, str) for u in urls):
        raise invalid(f"{where} has invalid urls")
    return DescriptorRef(kind, media_type, digest, size, tuple(urls))


def _decode(content: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise invalid(f"manifest is not JSON: {err}") from err
    if not isinstance(doc, dict):
        raise invalid("manifest is not a JSON object")
    return doc


def _media_type(doc: dict[str, Any], content_type: str | None) -> str:
    """The body's ``mediaType`` must agree with Content-Type when both are given; without
    either, the shape decides (an OCI manifest may omit its media type)."""
    declared = doc.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise invalid("mediaType is not a string")
    if declared and content_type and declared != content_type:
        raise invalid(f"mediaType {declared!r} does not match Content-Type {content_type!r}")
    media_type = declared or content_type
    if not media_type:
        media_type = MEDIA_TYPE_OCI_INDEX if "manifests" in doc else MEDIA_TYPE_OCI_MANIFEST
    if media_type not in MANIFEST_TYPES:
        raise invalid(f"unsupported manifest media type {media_type!r}",
                      mediaType=media_type)
    return media_type


def parse(content: bytes, content_type: str | None = None) -> ParsedManifest:
    doc = _decode(content)
    if doc.get("schemaVersion") != 2:
        raise invalid("only schemaVersion 2 manifests are supported",
                      schemaVersion=doc.get("schemaVersion"))
    media_type = _media_type(doc, content_type)
    refs: list[DescriptorRef] = []
    if media_type in IMAGE_MANIFEST_TYPES:
        refs.append(_descriptor(doc.get("config"), "blob", "config"))
        layers = doc.get("layers")
        if not isinstance(layers, list):
            raise invalid("layers is not a list")
        refs += [_descriptor(d, "blob", f"layers[{i}]") for i, d in enumerate(layers)]
    else:
        children = doc.get("manifests")
        if not isinstance(children, list):
            raise invalid("manifests is not a list")
        refs += [_descriptor(d, "manifest", f"manifests[{i}]") for i, d in enumerate(children)]
    subject = doc.get("subject")
    artifact_type = doc.get("artifactType")
    annotations = doc.get("annotations") or {}
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise invalid("artifactType is not a string")
    if not isinstance(annotations, dict):
        raise invalid("annotations is not an object")
    return ParsedManifest(
        media_type=media_type,
        references=tuple(refs),
        subject=None if subject is None else _descriptor(subject, "manifest", "subject"),
        artifact_type=artifact_type,
        annotations={str(k): str(v) for k, v in annotations.items()},
    )


def referrer_descriptor(parsed: ParsedManifest, digest: str, size: int) -> dict[str, Any]:
    """The entry for this manifest in a referrers index: its ``artifactType`` is its own,
    or else (image manifests) its config's media type."""
    desc: dict[str, Any] = {"mediaType": parsed.media_type, "digest": digest, "size": size}
    artifact_type = parsed.artifact_type
    if artifact_type is None and parsed.media_type in IMAGE_MANIFEST_TYPES:
        artifact_type = parsed.references[0].media_type
    if artifact_type:
        desc["artifactType"] = artifact_type
    if parsed.annotations:
        desc["annotations"] = parsed.annotations
    return desc
