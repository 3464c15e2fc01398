"""OCI image config and manifest documents, and the media types Berth reads and writes.

Image configs are kept as the spec's JSON (``ImageConfig`` TypedDicts, PascalCase inside
``config`` as the image-spec itself spells it); the digest of the exact bytes stored is the
image ID, so a document is never re-serialized once written.
"""

from __future__ import annotations

import hashlib
from typing import NotRequired, TypedDict

MEDIA_TYPE_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_TYPE_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_TYPE_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_TYPE_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MEDIA_TYPE_OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_TYPE_OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MEDIA_TYPE_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_TYPE_DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_TYPE_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MEDIA_TYPE_DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MEDIA_TYPE_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
MEDIA_TYPE_DOCKER_LAYER_ZSTD = "application/vnd.docker.image.rootfs.diff.tar.zstd"

# Every layer media type an image may use, with the compression it declares ("" for a
# plain tar). The nondistributable and foreign types are the same tars with a different
# licence to redistribute.
LAYER_COMPRESSION: dict[str, str] = {
    MEDIA_TYPE_OCI_LAYER: "", MEDIA_TYPE_OCI_LAYER_GZIP: "gzip",
    MEDIA_TYPE_OCI_LAYER_ZSTD: "zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar": "",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": "zstd",
    MEDIA_TYPE_DOCKER_LAYER: "", MEDIA_TYPE_DOCKER_LAYER_GZIP: "gzip",
    MEDIA_TYPE_DOCKER_LAYER_ZSTD: "zstd",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": "gzip",
}
CONFIG_TYPES = (MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_DOCKER_CONFIG)


class ContainerConfig(TypedDict, total=False):
    """The ``config`` object of an image config (what a container inherits)."""

    User: str
    ExposedPorts: dict[str, dict[str, object]]
    Env: list[str]
    Entrypoint: list[str] | None
    Cmd: list[str] | None
    Volumes: dict[str, dict[str, object]]
    WorkingDir: str
    Labels: dict[str, str]
    StopSignal: str
    Healthcheck: dict[str, object]
    OnBuild: list[str]
    Shell: list[str]


class RootFS(TypedDict):
    type: str  # "layers"
    diff_ids: list[str]


class History(TypedDict, total=False):
    created: str
    created_by: str
    author: str
    comment: str
    empty_layer: bool


class ImageConfig(TypedDict):
    created: NotRequired[str]
    author: NotRequired[str]
    architecture: str
    os: str
    variant: NotRequired[str]
    config: NotRequired[ContainerConfig]
    rootfs: RootFS
    history: NotRequired[list[History]]


class Descriptor(TypedDict):
    mediaType: str
    digest: str
    size: int
    annotations: NotRequired[dict[str, str]]
    platform: NotRequired[dict[str, str]]


class Manifest(TypedDict):
    schemaVersion: int
    mediaType: NotRequired[str]
    config: Descriptor
    layers: list[Descriptor]
    annotations: NotRequired[dict[str, str]]


def chain_ids(diff_ids: list[str]) -> list[str]:
    """The chain ID of each layer stack: ChainID(L0) = DiffID(L0),
    ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(Ln)) (image-spec config.md)."""
    out: list[str] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            out.append("sha256:" + hashlib.sha256(f"{out[-1]} {diff_id}".encode()).hexdigest())
    return out
