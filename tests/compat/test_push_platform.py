"""An image pulled from an OCI index, pushed elsewhere: what is pushed is this platform's
manifest, byte for byte (as docker pushes it), so the pushed digest is the platform
manifest's and ``RepoDigests`` names the index in the source repository and the platform
manifest in the target."""

from __future__ import annotations

import json
import platform
import urllib.request
from pathlib import Path

from tests.compat.daemon import Daemon, registry_server
from tests.compat.seed import hello_layer, make_image, make_index, push_image

ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
OTHER = "arm64" if ARCH != "arm64" else "amd64"


def _manifest(registry: str, repo_tag: str) -> tuple[str, bytes]:
    repo, _, tag = repo_tag.rpartition(":")
    req = urllib.request.Request(
        f"http://{registry}/v2/{repo}/manifests/{tag}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json,"
                           "application/vnd.oci.image.index.v1+json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return str(resp.headers["Docker-Content-Digest"]), resp.read()


def test_push_of_an_image_pulled_from_an_index(daemon: Daemon, tmp_path: Path) -> None:
    d = daemon
    with registry_server(tmp_path / "a") as source, registry_server(tmp_path / "b") as target:
        mine = make_image(d, [hello_layer(f"{ARCH}\n")], architecture=ARCH)
        other = make_image(d, [hello_layer(f"{OTHER}\n")], architecture=OTHER)
        index = make_index({f"linux/{ARCH}": mine, f"linux/{OTHER}": other})
        push_image(source, "multi/app:1", index)
        pulled, pushed = f"{source}/multi/app:1", f"{target}/copy/app:1"
        try:
            d.berth("pull", pulled)
            d.berth("tag", pulled, pushed)
            out = d.berth("push", pushed).stdout
            assert f"1: digest: {mine.desc.digest} size: {mine.desc.size}" in out, out

            digest, data = _manifest(target, "copy/app:1")
            assert digest == mine.desc.digest
            assert data == mine.blobs.data[mine.desc.digest]  # the registry's bytes, as pulled
            assert d.berth("run", "--rm", pushed, "cat", "/hello.txt").stdout == f"{ARCH}\n"

            digests = json.loads(d.berth("image", "inspect", "-f", "{{json .RepoDigests}}",
                                         pushed).stdout)
            assert sorted(digests) == sorted([f"{source}/multi/app@{index.desc.digest}",
                                              f"{target}/copy/app@{mine.desc.digest}"])
        finally:
            d.berth("rmi", pulled, pushed, check=False)
