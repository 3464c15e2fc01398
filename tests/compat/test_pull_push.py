"""``docker pull`` from a berth registry on 127.0.0.1 (plain HTTP, as docker treats
loopback registries).

The registry is seeded from the test with the registry client: a two-layer image whose first
layer is the daemon's bootstrapped busybox (the daemon has it: "Already exists") and whose
second is a new gzip layer (downloaded: "Pull complete")."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import docker
import pytest

from berth.oci.image import (
    MEDIA_TYPE_OCI_CONFIG,
    MEDIA_TYPE_OCI_LAYER_GZIP,
    MEDIA_TYPE_OCI_MANIFEST,
)
from berth.oci.reference import parse_named
from berth.registry.client import Descriptor, RegistrySession, push
from tests.compat.daemon import Daemon, free_port, inspect, registry_server


class _Blobs:
    """A BlobSource over the test's own blobs and, for busybox's, the daemon's store."""

    def __init__(self, daemon_content: Path) -> None:
        self.own: dict[str, bytes] = {}
        self.daemon_content = daemon_content

    def add(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.own[digest] = data
        return digest

    def open(self, digest: str) -> BinaryIO:
        if digest in self.own:
            return io.BytesIO(self.own[digest])
        return (self.daemon_content / "blobs" / "sha256" / digest.split(":")[1]).open("rb")


def _layer() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"hello from the registry\n"
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime = len(data), 1700000000
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _seed(daemon: Daemon, registry: str, repo_tag: str) -> str:
    """Push busybox + one layer as ``registry/repo_tag``; returns the manifest digest."""
    busybox = inspect(daemon, "busybox")
    blobs = _Blobs(daemon.data_root / "content")
    config = json.loads(blobs.open(str(busybox["Id"])).read())
    base_diff = config["rootfs"]["diff_ids"][0]
    base_size = (daemon.data_root / "content/blobs/sha256" / base_diff.split(":")[1]).stat()
    tar = _layer()
    gz = gzip.compress(tar, mtime=0)
    layer = blobs.add(gz)
    config["rootfs"]["diff_ids"] = [base_diff, "sha256:" + hashlib.sha256(tar).hexdigest()]
    config["history"] = [*config.get("history", []), {"created_by": "test layer"}]
    config_bytes = json.dumps(config).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MEDIA_TYPE_OCI_MANIFEST,
        "config": {"mediaType": MEDIA_TYPE_OCI_CONFIG, "digest": blobs.add(config_bytes),
                   "size": len(config_bytes)},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": base_diff,
             "size": base_size.st_size},
            {"mediaType": MEDIA_TYPE_OCI_LAYER_GZIP, "digest": layer, "size": len(gz)},
        ]}).encode()
    desc = Descriptor(MEDIA_TYPE_OCI_MANIFEST, blobs.add(manifest), len(manifest))

    async def go() -> str:
        async with RegistrySession() as session:
            return await push(session, parse_named(f"{registry}/{repo_tag}"), desc, blobs)

    return asyncio.run(go())


@pytest.fixture(scope="module")
def registry(daemon: Daemon, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with registry_server(tmp_path_factory.mktemp("registry")) as address:
        yield address


def test_docker_pull_run_and_repull(daemon: Daemon, registry: str) -> None:
    digest = _seed(daemon, registry, "pulltest/x:1")
    image = f"{registry}/pulltest/x:1"
    try:
        out = daemon.docker("pull", image, timeout=120).stdout
        assert "Already exists" in out and "Pull complete" in out, out
        assert f"Digest: {digest}" in out, out
        assert f"Status: Downloaded newer image for {image}" in out, out
        ran = daemon.docker("run", "--rm", image, "cat", "/hello.txt").stdout
        assert ran == "hello from the registry\n"
        assert daemon.docker("run", "--rm", image, "echo", "hi").stdout == "hi\n"
        info = inspect(daemon, image)
        assert info["RepoDigests"] == [f"{registry}/pulltest/x@{digest}"]
        again = daemon.docker("pull", image).stdout
        assert f"Status: Image is up to date for {image}" in again, again
    finally:
        daemon.berth("rmi", "-f", image, check=False)


def test_pull_missing_tag(daemon: Daemon, registry: str) -> None:
    _seed(daemon, registry, "pulltest/y:1")
    missing = daemon.docker("pull", f"{registry}/pulltest/y:9", check=False)
    assert missing.returncode == 1
    assert f"manifest for {registry}/pulltest/y:9 not found: manifest unknown" \
        in missing.stderr, missing.stderr
    unreachable = daemon.docker("pull", f"127.0.0.1:{free_port()}/x:1", check=False)
    assert unreachable.returncode == 1 and "Error response from daemon" in unreachable.stderr


def test_docker_py_pull_streams_progress(daemon: Daemon, registry: str) -> None:
    _seed(daemon, registry, "pulltest/z:1")
    client = docker.APIClient(base_url=daemon.host, version="1.45", timeout=60)
    try:
        events = list(client.pull(f"{registry}/pulltest/z", tag="1", stream=True,
                                  decode=True))
        statuses = [e.get("status", "") for e in events]
        assert statuses[0] == "Pulling from pulltest/z" and events[0]["id"] == "1"
        assert "Pulling fs layer" in statuses and "Download complete" in statuses
        downloading = [e for e in events if e.get("status") == "Downloading"]
        assert downloading and downloading[-1]["progressDetail"]["total"] > 0
        assert statuses[-1].startswith("Status: Downloaded newer image for")
        assert not any("error" in e for e in events)
    finally:
        client.close()
        daemon.berth("rmi", "-f", f"{registry}/pulltest/z:1", check=False)


def test_berth_run_pulls_a_missing_image(daemon: Daemon, registry: str) -> None:
    _seed(daemon, registry, "pulltest/w:1")
    image = f"{registry}/pulltest/w:1"
    try:
        done = daemon.berth("run", "--rm", image, "cat", "/hello.txt")
        assert done.stdout == "hello from the registry\n"
        assert f"Unable to find image '{image}' locally" in done.stderr
        assert "Pull complete" in done.stderr
    finally:
        daemon.berth("rmi", "-f", image, check=False)
    missing = daemon.berth("run", "--rm", "nosuch", check=False)
    assert missing.returncode == 125
    assert "Unable to find image 'nosuch:latest' locally" in missing.stderr
