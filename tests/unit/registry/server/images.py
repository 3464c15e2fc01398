"""Small OCI images built in memory, push/pull flows over the HTTP API, OCI layouts.

Shared by the unit tests and ``tests/integration/registry`` (skopeo, distribution).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.unit.registry.server.harness import Client

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return digest_of(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data),
                **extra}


@dataclass(frozen=True)
class Image:
    config: Blob
    layers: tuple[Blob, ...]
    manifest: Blob

    @property
    def blobs(self) -> tuple[Blob, ...]:
        return (self.config, *self.layers)


def layer(files: dict[str, bytes]) -> Blob:
    """A deterministic gzip tar layer (fixed mtimes, so the digest is stable)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), 0o644, 1700000000
            tar.addfile(info, io.BytesIO(content))
    return Blob(OCI_LAYER, gzip.compress(raw.getvalue(), mtime=0))


def manifest_blob(doc: dict[str, Any], media_type: str = OCI_MANIFEST) -> Blob:
    return Blob(media_type, json.dumps(doc, separators=(",", ":"), sort_keys=True).encode())


def make_image(seed: str = "a", layer_count: int = 3, layer_size: int = 3000) -> Image:
    layers = tuple(layer({f"{seed}/file{i}": (f"{seed}{i}" * layer_size).encode()})
                   for i in range(layer_count))
    diff_ids = [digest_of(gzip.decompress(lay.data)) for lay in layers]
    config = Blob(OCI_CONFIG, json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }).encode())
    manifest = manifest_blob({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": config.descriptor(), "layers": [lay.descriptor() for lay in layers],
    })
    return Image(config, layers, manifest)


def make_artifact(subject: Blob, artifact_type: str, text: str) -> tuple[Blob, Blob]:
    """An OCI 1.1 artifact manifest (empty config, one layer) referring to ``subject``;
    returns (layer, manifest)."""
    payload = Blob("text/plain", text.encode())
    empty = Blob(OCI_EMPTY, b"{}")
    manifest = manifest_blob({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
        "config": empty.descriptor(), "layers": [payload.descriptor()],
        "subject": subject.descriptor(), "annotations": {"note": text},
    })
    return payload, manifest


# -- push flows ---------------------------------------------------------------------------

def push_monolithic(client: Client, name: str, blob: Blob) -> None:
    r = client.request("POST", f"/v2/{name}/blobs/uploads/")
    assert r.status == 202, r.body
    r = client.request("PUT", f"{r.headers['Location']}?digest={blob.digest}", body=blob.data,
                       headers={"Content-Type": "application/octet-stream"})
    assert r.status == 201, r.body
    assert r.headers["Docker-Content-Digest"] == blob.digest


def push_single_post(client: Client, name: str, blob: Blob) -> None:
    r = client.request("POST", f"/v2/{name}/blobs/uploads/?digest={blob.digest}",
                       body=blob.data, headers={"Content-Type": "application/octet-stream"})
    assert r.status == 201, r.body


def push_chunked(client: Client, name: str, blob: Blob, chunk: int = 1000) -> None:
    r = client.request("POST", f"/v2/{name}/blobs/uploads/")
    assert (r.status, r.headers["Range"]) == (202, "0-0")
    location = r.headers["Location"]
    for start in range(0, len(blob.data), chunk):
        part = blob.data[start:start + chunk]
        r = client.request("PATCH", location, body=part, headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{start}-{start + len(part) - 1}"})
        assert r.status == 202, r.body
        assert r.headers["Range"] == f"0-{start + len(part) - 1}"
        location = r.headers["Location"]
    r = client.request("PUT", f"{location}?digest={blob.digest}")
    assert r.status == 201, r.body


def put_manifest(client: Client, name: str, reference: str, manifest: Blob) -> Any:
    r = client.request("PUT", f"/v2/{name}/manifests/{reference}", body=manifest.data,
                       headers={"Content-Type": manifest.media_type})
    assert r.status == 201, r.body
    assert r.headers["Docker-Content-Digest"] == manifest.digest
    return r


def push_image(client: Client, name: str, tag: str, image: Image, how: str = "monolithic"
               ) -> None:
    flow = {"monolithic": push_monolithic, "chunked": push_chunked,
            "single-post": push_single_post}[how]
    for blob in image.blobs:
        flow(client, name, blob)
    put_manifest(client, name, tag, image.manifest)


def pull_image(client: Client, name: str, reference: str) -> Image:
    """Pull by the manifest's references and check every digest on the way."""
    r = client.get(f"/v2/{name}/manifests/{reference}", headers={"Accept": OCI_MANIFEST})
    assert r.status == 200, r.body
    manifest = Blob(r.headers["Content-Type"], r.body)
    assert r.headers["Docker-Content-Digest"] == manifest.digest
    doc = json.loads(r.body)

    def fetch(desc: dict[str, Any]) -> Blob:
        got = client.get(f"/v2/{name}/blobs/{desc['digest']}")
        assert got.status == 200, got.body
        assert digest_of(got.body) == desc["digest"] and len(got.body) == desc["size"]
        return Blob(desc["mediaType"], got.body)

    return Image(fetch(doc["config"]), tuple(fetch(d) for d in doc["layers"]), manifest)


# -- OCI image layouts (skopeo's oci: transport) ------------------------------------------

def write_oci_layout(root: Path, image: Image, tag: str) -> None:
    for blob in (*image.blobs, image.manifest):
        path = root / "blobs" / "sha256" / blob.digest.split(":", 1)[1]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob.data)
    (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [image.manifest.descriptor(
        annotations={"org.opencontainers.image.ref.name": tag})]}
    (root / "index.json").write_text(json.dumps(index))


def read_oci_layout(root: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """(index.json, every blob by digest), verifying that each blob matches its name."""
    index = json.loads((root / "index.json").read_text())
    blobs = {}
    for path in (root / "blobs" / "sha256").iterdir():
        data = path.read_bytes()
        assert digest_of(data) == f"sha256:{path.name}"
        blobs[f"sha256:{path.name}"] = data
    return index, blobs
