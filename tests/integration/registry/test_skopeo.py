"""Interop with real clients and the reference registry.

- ``skopeo copy`` pushes an OCI layout built by hand to ``berth-registry`` and pulls it back
  into another layout: every digest must survive both ways (``--preserve-digests``).
- The CNCF distribution registry (Debian's ``docker-registry``) and berth-registry copy an
  image to each other through skopeo, and distribution serves a root berth-registry wrote.

Each test skips (saying which) when skopeo or docker-registry is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.unit.registry.server.harness import Client
from tests.unit.registry.server.images import (
    OCI_INDEX,
    Image,
    make_image,
    manifest_blob,
    read_oci_layout,
    write_oci_layout,
)
from tests.unit.registry.server.process import berth_registry, distribution_registry
from tests.unit.registry.server.security import self_signed_cert, write_htpasswd

SKOPEO = shutil.which("skopeo")
DISTRIBUTION = shutil.which("docker-registry")

needs_skopeo = pytest.mark.skipif(SKOPEO is None, reason="skopeo is not installed "
                                  "(apt-get install skopeo)")
needs_distribution = pytest.mark.skipif(DISTRIBUTION is None, reason="docker-registry (CNCF "
                                        "distribution) is not installed (apt-get install "
                                        "docker-registry)")


def skopeo(tmp_path: Path, *args: str) -> str:
    """Run skopeo with a private HOME (no stray credentials) and no signature policy."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(home)}
    done = subprocess.run([str(SKOPEO), "--insecure-policy", *args], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"skopeo {' '.join(args)}:\n{done.stderr}"
    return done.stdout


def copy(tmp_path: Path, source: str, dest: str, *flags: str) -> None:
    skopeo(tmp_path, "copy", "--preserve-digests", "--src-tls-verify=false",
           "--dest-tls-verify=false", *flags, source, dest)


def assert_layout_holds(layout: Path, image: Image) -> None:
    index, blobs = read_oci_layout(layout)
    (desc,) = index["manifests"]
    assert desc["digest"] == image.manifest.digest
    assert blobs[image.manifest.digest] == image.manifest.data
    for blob in image.blobs:
        assert blobs[blob.digest] == blob.data


@pytest.fixture
def layout(tmp_path):
    image = make_image(layer_count=3, layer_size=20000)
    write_oci_layout(tmp_path / "src-layout", image, "v1")
    return tmp_path / "src-layout", image


@needs_skopeo
def test_skopeo_round_trip_through_berth_registry(tmp_path, layout):
    src, image = layout
    with berth_registry(tmp_path / "root") as port:
        registry = f"docker://127.0.0.1:{port}"
        copy(tmp_path, f"oci:{src}:v1", f"{registry}/team/app:v1")
        raw = skopeo(tmp_path, "inspect", "--raw", "--tls-verify=false",
                     f"{registry}/team/app:v1")
        assert raw.encode() == image.manifest.data
        tags = json.loads(skopeo(tmp_path, "list-tags", "--tls-verify=false",
                                 f"{registry}/team/app"))
        assert tags["Tags"] == ["v1"]
        copy(tmp_path, f"{registry}/team/app:v1", f"oci:{tmp_path / 'pulled'}:v1")
        # A second repository on the same registry: skopeo mounts the blobs across.
        copy(tmp_path, f"{registry}/team/app:v1", f"{registry}/other/app:v2")
        copy(tmp_path, f"{registry}/other/app:v2", f"oci:{tmp_path / 'pulled2'}:v2")
    assert_layout_holds(tmp_path / "pulled", image)
    assert_layout_holds(tmp_path / "pulled2", image)


@needs_skopeo
def test_skopeo_multi_arch_index(tmp_path):
    amd, arm = make_image("amd"), make_image("arm")
    index = manifest_blob({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        amd.manifest.descriptor(platform={"os": "linux", "architecture": "amd64"}),
        arm.manifest.descriptor(platform={"os": "linux", "architecture": "arm64"})]},
        OCI_INDEX)
    src = tmp_path / "src"
    write_oci_layout(src, amd, "unused")
    write_oci_layout(src, arm, "unused")
    (src / "blobs/sha256" / index.digest[7:]).write_bytes(index.data)
    (src / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        index.descriptor(annotations={"org.opencontainers.image.ref.name": "multi"})]}))
    with berth_registry(tmp_path / "root") as port:
        copy(tmp_path, f"oci:{src}:multi", f"docker://127.0.0.1:{port}/multi:latest", "--all")
        client = Client(port)
        r = client.get("/v2/multi/manifests/latest")
        assert (r.headers["Docker-Content-Digest"], r.body) == (index.digest, index.data)
        copy(tmp_path, f"docker://127.0.0.1:{port}/multi:latest", f"oci:{tmp_path / 'out'}:m",
             "--all")
    _, blobs = read_oci_layout(tmp_path / "out")
    assert {index.digest, amd.manifest.digest, arm.manifest.digest} <= blobs.keys()


@needs_skopeo
def test_skopeo_with_tls_and_credentials(tmp_path, layout):
    src, image = layout
    certs = tmp_path / "certs"
    certs.mkdir()
    cert, key = self_signed_cert(certs)
    trust_dir = tmp_path / "trust"
    trust_dir.mkdir()
    shutil.copy(cert, trust_dir / "ca.crt")
    htpasswd = write_htpasswd(tmp_path / "htpasswd", {"pusher": "pw"})
    import ssl
    context = ssl.create_default_context(cafile=str(cert))
    with berth_registry(tmp_path / "root", "--tls-cert", str(cert), "--tls-key", str(key),
                        "--htpasswd", str(htpasswd), context=context) as port:
        dest = f"docker://127.0.0.1:{port}/app:v1"
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(home)}
        denied = subprocess.run([str(SKOPEO), "--insecure-policy", "copy",
                                 "--dest-cert-dir", str(trust_dir), "--dest-creds", "pusher:no",
                                 f"oci:{src}:v1", dest], env=env, capture_output=True,
                                text=True, timeout=120)
        assert denied.returncode != 0
        skopeo(tmp_path, "copy", "--preserve-digests", "--dest-cert-dir", str(trust_dir),
               "--dest-creds", "pusher:pw", f"oci:{src}:v1", dest)
        skopeo(tmp_path, "copy", "--src-cert-dir", str(trust_dir), "--src-creds", "pusher:pw",
               dest, f"oci:{tmp_path / 'pulled'}:v1")
    assert_layout_holds(tmp_path / "pulled", image)


@needs_skopeo
@needs_distribution
def test_distribution_and_berth_registry_copy_to_each_other(tmp_path, layout):
    src, image = layout
    with distribution_registry(str(DISTRIBUTION), tmp_path / "dist-root", tmp_path) as dist, \
            berth_registry(tmp_path / "berth-root") as berth:
        copy(tmp_path, f"oci:{src}:v1", f"docker://127.0.0.1:{dist}/app:v1")
        copy(tmp_path, f"docker://127.0.0.1:{dist}/app:v1",
             f"docker://127.0.0.1:{berth}/app:v1")
        copy(tmp_path, f"docker://127.0.0.1:{berth}/app:v1",
             f"docker://127.0.0.1:{dist}/back:v1")
        copy(tmp_path, f"docker://127.0.0.1:{dist}/back:v1", f"oci:{tmp_path / 'pulled'}:v1")
    assert_layout_holds(tmp_path / "pulled", image)


@needs_skopeo
@needs_distribution
def test_distribution_serves_a_root_berth_registry_wrote(tmp_path, layout):
    """The on-disk layout is distribution's: its binary can serve what we stored."""
    src, image = layout
    root = tmp_path / "root"
    with berth_registry(root) as port:
        copy(tmp_path, f"oci:{src}:v1", f"docker://127.0.0.1:{port}/app:v1")
    with distribution_registry(str(DISTRIBUTION), root, tmp_path) as dist:
        copy(tmp_path, f"docker://127.0.0.1:{dist}/app:v1", f"oci:{tmp_path / 'pulled'}:v1")
    assert_layout_holds(tmp_path / "pulled", image)


@needs_skopeo
@needs_distribution
def test_berth_registry_serves_a_root_distribution_wrote(tmp_path, layout):
    src, image = layout
    root = tmp_path / "root"
    with distribution_registry(str(DISTRIBUTION), root, tmp_path) as dist:
        copy(tmp_path, f"oci:{src}:v1", f"docker://127.0.0.1:{dist}/app:v1")
    with berth_registry(root) as port:
        copy(tmp_path, f"docker://127.0.0.1:{port}/app:v1", f"oci:{tmp_path / 'pulled'}:v1")
        assert Client(port).get("/v2/_catalog").json() == {"repositories": ["app"]}
    assert_layout_holds(tmp_path / "pulled", image)
