"""Reading an image archive: ``docker save`` output (dockerd 20.10's ``<id>/layer.tar``
layout and 25+'s ``blobs/sha256`` one, both described by ``manifest.json``) and plain OCI
image layouts (``index.json`` + ``blobs/``), into a list of ``ArchiveImage`` to load.

The archive is a spooled, seekable tar read in place (never extracted). Every entry name is
checked before anything is read: an absolute name or a ``..`` component makes the whole
archive invalid, and a symlink or hardlink entry (20.10 links repeated layers) resolves
only to another entry of the archive. Every blob named by digest (an OCI descriptor, a
``blobs/sha256/<hex>`` path, a ``<hex>.json`` config) is verified when it is read.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import tarfile
from dataclasses import dataclass
from typing import IO, Any

from berth.errors import InvalidArgument, NotFound
from berth.oci.reference import Reference, parse_named
from berth.registry.client import platforms
from berth.registry.client.descriptor import (
    INDEX_TYPES,
    MAX_MANIFEST_SIZE,
    Descriptor,
    parse_descriptor,
)

ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
MAX_CONFIG_SIZE = 16 * 1024 * 1024
_MAX_LINKS = 16
_HEX_NAME = re.compile(r"(?:^|/)(?:blobs/sha256/)?([a-f0-9]{64})(?:\.json)?$")
_BLOB_NAME = re.compile(r"^blobs/sha256/([a-f0-9]{64})$")


def invalid(message: str) -> InvalidArgument:
    return InvalidArgument(f"invalid image archive: {message}")


@dataclass(frozen=True)
class ArchiveLayer:
    member: str  # the entry holding the layer tar
    digest: str | None  # the blob digest, when the archive names it
    size: int | None


@dataclass(frozen=True)
class ArchiveImage:
    config: bytes
    layers: tuple[ArchiveLayer, ...]
    tags: tuple[Reference, ...]
    manifest: bytes | None  # an OCI layout's own manifest, kept byte for byte


def safe_name(name: str) -> str:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or ".." in parts:
        raise invalid(f"entry {name!r} points outside the archive")
    return "/".join(parts)


class Archive:
    """The regular files of a tar, by (cleaned) name."""

    def __init__(self, fileobj: IO[bytes]) -> None:
        try:
            self._tar = tarfile.open(fileobj=fileobj, mode="r:")
            members = self._tar.getmembers()
        except (tarfile.TarError, EOFError) as err:
            raise invalid(f"not a readable tar: {err}") from err
        self._members: dict[str, tarfile.TarInfo] = {}
        for member in members:
            name = safe_name(member.name)
            if name:
                self._members[name] = member

    def has(self, name: str) -> bool:
        return name in self._members

    def _resolve(self, name: str) -> tarfile.TarInfo:
        for _ in range(_MAX_LINKS):
            member = self._members.get(name)
            if member is None:
                raise invalid(f"{name} is missing")
            if member.issym():
                target = posixpath.join(posixpath.dirname(name), member.linkname)
                name = safe_name(posixpath.normpath(target))
            elif member.islnk():
                name = safe_name(member.linkname)
            elif member.isreg():
                return member
            else:
                raise invalid(f"{name} is not a regular file")
        raise invalid(f"too many links resolving {name}")

    def open(self, name: str) -> tuple[IO[bytes], int]:
        member = self._resolve(name)
        stream = self._tar.extractfile(member)
        if stream is None:
            raise invalid(f"{name} is not a regular file")
        return stream, member.size

    def read(self, name: str, limit: int, digest: str | None = None) -> bytes:
        stream, size = self.open(name)
        if size > limit:
            raise invalid(f"{name} is {size} bytes, more than the {limit} allowed")
        data = stream.read()
        if digest is not None:
            actual = "sha256:" + hashlib.sha256(data).hexdigest()
            if actual != digest:
                raise invalid(f"digest mismatch for {name}: got {actual}, expected {digest}")
        return data

    def json(self, name: str, limit: int = MAX_MANIFEST_SIZE, digest: str | None = None) -> Any:
        data = self.read(name, limit, digest)
        try:
            return json.loads(data)
        except ValueError as err:
            raise invalid(f"{name} is not valid JSON: {err}") from err


def read_images(archive: Archive) -> list[ArchiveImage]:
    if archive.has("manifest.json"):
        return _docker_archive(archive)
    if archive.has("index.json"):
        return _oci_layout(archive)
    raise invalid("manifest.json not found (nor an OCI layout index.json)")


def _named_digest(name: str) -> str | None:
    match = _HEX_NAME.search(name)
    return "sha256:" + match.group(1) if match else None


def _tags(values: object, where: str) -> tuple[Reference, ...]:
    if values is None:
        return ()
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise invalid(f"{where}: RepoTags must be a list of names")
    try:
        return tuple(parse_named(v) for v in values)
    except InvalidArgument as err:
        raise invalid(f"{where}: {err.message}") from err


def _docker_archive(archive: Archive) -> list[ArchiveImage]:
    items = archive.json("manifest.json")
    if not isinstance(items, list):
        raise invalid("manifest.json is not a list")
    images = []
    for n, item in enumerate(items):
        where = f"manifest.json entry {n}"
        config_name, layers = (item.get("Config"), item.get("Layers")) \
            if isinstance(item, dict) else (None, None)
        if not isinstance(config_name, str) or not isinstance(layers, list) \
                or not all(isinstance(x, str) for x in layers):
            raise invalid(f"{where} needs Config and Layers")
        config_name = safe_name(config_name)
        config = archive.read(config_name, MAX_CONFIG_SIZE, _named_digest(config_name))
        members = [safe_name(x) for x in layers]
        images.append(ArchiveImage(
            config=config,
            layers=tuple(ArchiveLayer(m, _blob_digest(m), None) for m in members),
            tags=_tags(item.get("RepoTags"), where), manifest=None))
    return images


def _blob_digest(name: str) -> str | None:
    match = _BLOB_NAME.match(name)
    return "sha256:" + match.group(1) if match else None


def blob_name(digest: str) -> str:
    algorithm, _, hex_part = digest.partition(":")
    if algorithm != "sha256" or not re.fullmatch(r"[a-f0-9]{64}", hex_part):
        raise invalid(f"unsupported digest {digest!r}")
    return f"blobs/sha256/{hex_part}"


def _document(archive: Archive, desc: Descriptor) -> Any:
    name = blob_name(desc.digest)
    data = archive.read(name, MAX_MANIFEST_SIZE, desc.digest)
    if len(data) != desc.size:
        raise invalid(f"size mismatch for {name}: got {len(data)}, expected {desc.size}")
    return json.loads(data), data


def _descriptors(doc: Any, where: str) -> list[tuple[Descriptor, dict[str, str]]]:
    entries = doc.get("manifests") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise invalid(f"{where} has no manifests list")
    out = []
    for entry in entries:
        try:
            desc = parse_descriptor(entry)
        except InvalidArgument as err:
            raise invalid(f"{where}: {err.message}") from err
        annotations = entry.get("annotations") if isinstance(entry, dict) else None
        out.append((desc, annotations if isinstance(annotations, dict) else {}))
    return out


def _layout_tag(annotations: dict[str, str]) -> tuple[Reference, ...]:
    """containerd's full name, else ref.name when it is a whole reference (a bare tag like
    "latest" names no repository, so the image loads untagged)."""
    name = annotations.get(ANNOTATION_IMAGE_NAME) or ""
    ref_name = annotations.get(ANNOTATION_REF_NAME) or ""
    if not name and ("/" in ref_name or ":" in ref_name):
        name = ref_name
    if not name:
        return ()
    try:
        return (parse_named(name),)
    except InvalidArgument as err:
        raise invalid(f"index.json names {name!r}: {err.message}") from err


def _oci_layout(archive: Archive) -> list[ArchiveImage]:
    by_manifest: dict[str, ArchiveImage] = {}
    order: list[str] = []
    for desc, notes in _descriptors(archive.json("index.json"), "index.json"):
        if desc.media_type in INDEX_TYPES:
            nested, _ = _document(archive, desc)
            try:
                desc = platforms.select(d for d, _ in _descriptors(nested, desc.digest))
            except NotFound as err:
                raise invalid(err.message) from err
        tags = _layout_tag(notes)
        known = by_manifest.get(desc.digest)
        if known is None:
            by_manifest[desc.digest] = _oci_image(archive, desc, tags)
            order.append(desc.digest)
        else:
            merged = known.tags + tuple(t for t in tags if t not in known.tags)
            by_manifest[desc.digest] = ArchiveImage(known.config, known.layers, merged,
                                                    known.manifest)
    return [by_manifest[d] for d in order]


def _oci_image(archive: Archive, desc: Descriptor, tags: tuple[Reference, ...]
               ) -> ArchiveImage:
    manifest, raw = _document(archive, desc)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("layers"), list):
        raise invalid(f"{desc.digest} is not an image manifest")
    try:
        config_desc = parse_descriptor(manifest.get("config"))
        layers = [parse_descriptor(x) for x in manifest["layers"]]
    except InvalidArgument as err:
        raise invalid(f"manifest {desc.digest}: {err.message}") from err
    config = archive.read(blob_name(config_desc.digest), MAX_CONFIG_SIZE, config_desc.digest)
    return ArchiveImage(
        config=config,
        layers=tuple(ArchiveLayer(blob_name(x.digest), x.digest, x.size) for x in layers),
        tags=tags, manifest=raw)
