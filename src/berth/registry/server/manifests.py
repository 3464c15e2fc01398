"""Manifests and tags of a repository (distribution's manifest and tag stores).

A manifest's bytes are a blob; ``_manifests/revisions/<digest>/link`` puts it in a
repository and ``_manifests/tags/<tag>/current/link`` names it by tag. A PUT is accepted only
when everything it references is already in the repository, so a pull can never find a
manifest whose blobs are missing. Tags are deleted with their manifest; deleting a tag alone
is refused (UNSUPPORTED) unless the registry is configured to allow it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from berth.oci import digest as digests
from berth.registry.server import documents, names, paths
from berth.registry.server.blobs import BlobStore, read_link, write_link
from berth.registry.server.errcode import ErrorCode, RegistryError
from berth.registry.server.storage import PathNotFound, StorageDriver


@dataclass(frozen=True)
class StoredManifest:
    digest: str
    media_type: str
    content: bytes


@dataclass(frozen=True)
class PutResult:
    digest: str
    subject: str | None


def unknown_manifest(name: str, reference: str) -> RegistryError:
    return RegistryError(ErrorCode.MANIFEST_UNKNOWN, detail={"name": name, "reference": reference})


class ManifestStore:
    def __init__(self, driver: StorageDriver, blobs: BlobStore) -> None:
        self.driver = driver
        self.blobs = blobs

    # -- reading --------------------------------------------------------------------------

    def resolve(self, name: str, reference: str) -> str:
        """The digest a tag or digest reference names in ``name``; MANIFEST_UNKNOWN if none."""
        try:
            if names.is_digest(reference):
                digest = read_link(self.driver, paths.revision_link(name, reference))
            else:
                digest = read_link(self.driver, paths.tag_current_link(name, reference))
                read_link(self.driver, paths.revision_link(name, digest))
        except PathNotFound as err:
            raise unknown_manifest(name, reference) from err
        return digest

    def get(self, name: str, reference: str) -> StoredManifest:
        digest = self.resolve(name, reference)
        try:
            content = self.blobs.get_small(digest)
        except RegistryError as err:
            raise unknown_manifest(name, reference) from err
        return StoredManifest(digest, documents.parse(content).media_type, content)

    def revisions(self, name: str) -> list[str]:
        """Every manifest digest in ``name``, tagged or not."""
        return [f"sha256:{hex_}" for hex_ in _list(self.driver, paths.revisions_root(name))]

    def tags(self, name: str) -> list[str]:
        """Sorted tags; NAME_UNKNOWN when nothing at all is stored under the name."""
        try:
            self.driver.stat(paths.repository(name))
        except PathNotFound as err:
            raise RegistryError(ErrorCode.NAME_UNKNOWN, detail={"name": name}) from err
        return _list(self.driver, paths.tags_root(name))

    # -- writing --------------------------------------------------------------------------

    def put(self, name: str, reference: str, content: bytes,
            content_type: str | None) -> PutResult:
        parsed = documents.parse(content, content_type)
        digest = digests.sha256_digest(content)
        if names.is_digest(reference) and reference != digest:
            raise RegistryError(ErrorCode.DIGEST_INVALID, "manifest digest does not match "
                                "the reference", detail={"digest": reference, "actual": digest})
        self._verify_references(name, parsed.references)
        self.blobs.put_small(content)
        write_link(self.driver, paths.revision_link(name, digest), digest)
        if not names.is_digest(reference):
            write_link(self.driver, paths.tag_index_link(name, reference, digest), digest)
            write_link(self.driver, paths.tag_current_link(name, reference), digest)
        subject = parsed.subject.digest if parsed.subject else None
        if subject is not None:
            write_link(self.driver, paths.referrer_link(name, subject, digest), digest)
        return PutResult(digest, subject)

    def _verify_references(self, name: str, refs: Iterable[documents.DescriptorRef]) -> None:
        for ref in refs:
            if ref.kind == "blob":
                if ref.urls:
                    continue  # non-distributable layer: fetched from its urls, not from us
                try:
                    size = self.blobs.stat(name, ref.digest).size
                except RegistryError as err:
                    raise _blob_unknown(ref) from err
            else:
                try:
                    read_link(self.driver, paths.revision_link(name, ref.digest))
                    size = self.blobs.stat_data(ref.digest).size
                except (PathNotFound, RegistryError) as err:
                    raise _blob_unknown(ref) from err
            if size != ref.size:
                raise documents.invalid("descriptor size does not match the stored content",
                                        digest=ref.digest, size=ref.size, actual=size)

    def delete(self, name: str, reference: str, *, allow_tag: bool) -> None:
        if not names.is_digest(reference):
            if not allow_tag:
                raise RegistryError(ErrorCode.UNSUPPORTED, "deleting a tag is not enabled; "
                                    "delete the manifest by digest")
            self.resolve(name, reference)
            self.driver.delete(paths.tag_dir(name, reference))
            return
        digest = self.resolve(name, reference)
        for tag in _list(self.driver, paths.tags_root(name)):
            try:
                current = read_link(self.driver, paths.tag_current_link(name, tag))
            except PathNotFound:
                continue
            if current == digest:
                self.driver.delete(paths.tag_dir(name, tag))
        self.driver.delete(paths.revision_link(name, digest).rsplit("/", 1)[0])
        try:
            subject = documents.parse(self.blobs.get_small(digest)).subject
        except RegistryError:
            subject = None
        if subject is not None:
            _delete_quietly(self.driver, paths.referrer_link(name, subject.digest, digest))

    # -- referrers ------------------------------------------------------------------------

    def referrers(self, name: str, subject: str,
                  artifact_type: str | None) -> list[dict[str, Any]]:
        """Descriptors of the manifests in ``name`` whose subject is ``subject``."""
        found: list[dict[str, Any]] = []
        for hex_ in _list(self.driver, paths.referrers_dir(name, subject)):
            digest = f"sha256:{hex_}"
            try:
                read_link(self.driver, paths.revision_link(name, digest))
                content = self.blobs.get_small(digest)
            except (PathNotFound, RegistryError):
                continue  # deleted since; the index entry is stale
            desc = documents.referrer_descriptor(documents.parse(content), digest, len(content))
            if artifact_type is None or desc.get("artifactType") == artifact_type:
                found.append(desc)
        return found


def _blob_unknown(ref: documents.DescriptorRef) -> RegistryError:
    return RegistryError(ErrorCode.MANIFEST_BLOB_UNKNOWN, detail={
        "digest": ref.digest, "mediaType": ref.media_type})


def _list(driver: StorageDriver, path: str) -> list[str]:
    try:
        return driver.list(path)
    except PathNotFound:
        return []


def _delete_quietly(driver: StorageDriver, path: str) -> None:
    try:
        driver.delete(path)
    except PathNotFound:
        pass
