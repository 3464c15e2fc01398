"""``berth-registry`` as a process: serve (plain, TLS, htpasswd) and garbage-collect."""

from __future__ import annotations

import ssl
import subprocess

from tests.unit.registry.server.harness import Client
from tests.unit.registry.server.images import (
    Blob,
    make_image,
    pull_image,
    push_image,
    push_monolithic,
)
from tests.unit.registry.server.process import BERTH_REGISTRY, berth_registry
from tests.unit.registry.server.security import self_signed_cert, write_htpasswd


def test_serve_push_pull_and_restart_keeps_data(tmp_path):
    image = make_image()
    root = tmp_path / "root"
    with berth_registry(root) as port:
        push_image(Client(port), "app", "v1", image, how="chunked")
    with berth_registry(root) as port:
        assert pull_image(Client(port), "app", "v1") == image
    assert (root / "docker/registry/v2/repositories/app/_manifests/tags/v1/current/link"
            ).read_text() == image.manifest.digest


def test_upload_survives_a_restart(tmp_path):
    """The running hash lives in memory; after a restart it is recomputed from storage."""
    blob = make_image().layers[0]
    half = len(blob.data) // 2
    with berth_registry(tmp_path) as port:
        client = Client(port)
        location = client.request("POST", "/v2/app/blobs/uploads/").headers["Location"]
        client.request("PATCH", location, body=blob.data[:half],
                       headers={"Content-Range": f"0-{half - 1}"})
    with berth_registry(tmp_path) as port:
        client = Client(port)
        assert client.get(location).headers["Range"] == f"0-{half - 1}"
        r = client.request("PUT", f"{location}?digest={blob.digest}", body=blob.data[half:])
        assert r.status == 201, r.body


def test_serve_with_tls_and_htpasswd(tmp_path):
    cert, key = self_signed_cert(tmp_path)
    htpasswd = write_htpasswd(tmp_path / "htpasswd", {"user": "pw"})
    trust = ssl.create_default_context(cafile=str(cert))
    with berth_registry(tmp_path / "root", "--tls-cert", str(cert), "--tls-key", str(key),
                        "--htpasswd", str(htpasswd), context=trust) as port:
        assert Client(port, ssl_context=trust).get("/v2/").status == 401
        assert Client(port, ssl_context=trust, auth=("user", "pw")).get("/v2/").status == 200


def test_garbage_collect_command(tmp_path):
    root = tmp_path / "root"
    orphan = Blob("application/octet-stream", b"orphan")
    with berth_registry(root) as port:
        client = Client(port)
        push_image(client, "app", "v1", make_image())
        push_monolithic(client, "app", orphan)
    data = root / "docker/registry/v2/blobs/sha256" / orphan.digest[7:9] / orphan.digest[7:]
    dry = subprocess.run([*BERTH_REGISTRY, "garbage-collect", "--root", str(root),
                          "--dry-run"], capture_output=True, text=True, check=True)
    assert f"would delete blob {orphan.digest}" in dry.stdout
    assert data.exists()
    real = subprocess.run([*BERTH_REGISTRY, "garbage-collect", "--root", str(root)],
                          capture_output=True, text=True, check=True)
    assert f"deleted blob {orphan.digest}" in real.stdout
    assert not data.exists()


def test_bad_arguments_fail_cleanly(tmp_path):
    r = subprocess.run([*BERTH_REGISTRY, "serve", "--root", str(tmp_path), "--tls-cert", "x"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "--tls-key" in r.stderr
    r = subprocess.run([*BERTH_REGISTRY, "serve", "--root", str(tmp_path), "--addr", "nope"],
                       capture_output=True, text=True)
    assert r.returncode == 2
