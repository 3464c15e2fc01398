"""A registry that lies, dies or refuses: ``berth pull`` fails with a clear error, the daemon
keeps no image, no half-unpacked snapshot and no unverified blob, and once the fault is gone
the same pull succeeds (resuming a cut-off layer with a Range request) and the image runs.

The faults come from a loopback proxy in front of a ``berth registry serve``
(``registry_proxy.py``); wrong credentials from a registry with an htpasswd file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import docker
import pytest

from berth.oci import image
from tests.compat.daemon import Daemon, registry_server
from tests.compat.registry_proxy import Fault, RegistryProxy, oversized_manifest, registry_proxy
from tests.compat.seed import Layer, hello_layer, make_image, push_image
from tests.tarballs import tar_of
from tests.unit.registry.server.process import berth_registry

BIG = os.urandom(1 << 20)  # one layer file: ~1 MiB of gzip that does not compress


@pytest.fixture(scope="module")
def proxied(daemon: Daemon, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[str, str, RegistryProxy]]:
    """(registry, proxy address, proxy)."""
    with registry_server(tmp_path_factory.mktemp("registry")) as upstream, \
            registry_proxy(upstream) as (address, proxy):
        yield upstream, address, proxy


def _snapshots(daemon: Daemon) -> set[str]:
    return {p.name for p in daemon.data_root.glob("snapshots/*/snapshots/*")}


def _blobs(daemon: Daemon) -> set[str]:
    return {p.name for p in daemon.data_root.glob("content/blobs/sha256/*")}


def _assert_nothing_kept(daemon: Daemon, ref: str, snapshots: set[str], blob: str) -> None:
    assert daemon.berth("image", "inspect", ref, check=False).returncode == 1
    assert _snapshots(daemon) == snapshots  # nothing unpacked, nothing half-unpacked
    assert blob.split(":")[1] not in _blobs(daemon)  # never an unverified blob


@pytest.mark.parametrize(("fault", "message"), [
    (Fault("wrong"), "blob digest mismatch: expected {digest}, got sha256:"),
    (Fault("truncate"), "blob {digest}: truncated, "),
    (Fault("cut", after=300_000), "blob {digest}: connection lost after "),
    (Fault("missing"), "blob unknown to registry"),
], ids=lambda f: f.kind if isinstance(f, Fault) else "")
def test_a_blob_fault_fails_cleanly_and_a_retry_succeeds(
        daemon: Daemon, proxied: tuple[str, str, RegistryProxy], fault: Fault,
        message: str) -> None:
    upstream, address, proxy = proxied
    repo = f"faults/{fault.kind}:1"
    img = make_image(daemon, [hello_layer(f"survived {fault.kind}\n"),
                              Layer(tar_of({"big": BIG}), image.MEDIA_TYPE_OCI_LAYER_GZIP)])
    push_image(upstream, repo, img)
    bad = img.layers[2]
    ref = f"{address}/{repo}"
    snapshots = _snapshots(daemon)
    proxy.faults[bad.digest] = fault
    try:
        failed = daemon.berth("pull", ref, check=False, timeout=120)
        assert failed.returncode == 1, failed.stdout
        assert message.format(digest=bad.digest) in failed.stderr, failed.stderr
        _assert_nothing_kept(daemon, ref, snapshots, bad.digest)

        del proxy.faults[bad.digest]
        daemon.berth("pull", ref, timeout=120)
        ran = daemon.berth("run", "--rm", ref, "sh", "-c", "cat /hello.txt; wc -c < /big")
        assert ran.stdout.split() == ["survived", fault.kind, str(len(BIG))]
        gets = proxy.gets_of(bad.digest)
        if fault.kind in ("truncate", "cut"):  # the prefix was kept: only the rest is fetched
            assert gets[-1].range is not None, gets
            start = int(gets[-1].range.removeprefix("bytes=").rstrip("-"))
            assert 0 < start <= gets[-2].sent and gets[-1].sent == bad.size - start, gets
        else:
            assert gets[-1].range is None
    finally:
        proxy.faults.pop(bad.digest, None)
        daemon.berth("rmi", "-f", ref, check=False)


def test_an_oversized_manifest_is_refused(daemon: Daemon,
                                          proxied: tuple[str, str, RegistryProxy]) -> None:
    upstream, address, proxy = proxied
    img = make_image(daemon, [hello_layer("small manifest\n")])
    push_image(upstream, "faults/big:1", img)
    ref = f"{address}/faults/big:1"
    snapshots = _snapshots(daemon)
    proxy.manifests["1"] = (image.MEDIA_TYPE_OCI_MANIFEST, oversized_manifest(5 << 20))
    try:
        failed = daemon.berth("pull", ref, check=False, timeout=120)
        assert failed.returncode == 1
        assert "larger than 4194304 bytes" in failed.stderr or "too large" in failed.stderr, \
            failed.stderr
        _assert_nothing_kept(daemon, ref, snapshots, img.layers[1].digest)
        del proxy.manifests["1"]
        daemon.berth("pull", ref, timeout=120)
        assert daemon.berth("run", "--rm", ref, "cat", "/hello.txt").stdout == \
            "small manifest\n"
    finally:
        proxy.manifests.pop("1", None)
        daemon.berth("rmi", "-f", ref, check=False)


def test_wrong_credentials_are_unauthorized(daemon: Daemon, tmp_path: Path) -> None:
    root = tmp_path / "root"
    with registry_server(root) as plain:  # seeded without auth, then served with it
        img = make_image(daemon, [hello_layer("behind a password\n")])
        push_image(plain, "private/app:1", img)
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("alice:" + bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).decode() + "\n")
    with berth_registry(root, "--htpasswd", str(htpasswd)) as port:
        client = docker.APIClient(base_url=daemon.host, version="1.45", timeout=120)
        repo = f"127.0.0.1:{port}/private/app"
        snapshots = _snapshots(daemon)
        try:
            for auth in (None, {"username": "alice", "password": "wrong"}):
                with pytest.raises(docker.errors.APIError) as err:
                    client.pull(repo, tag="1", auth_config=auth)
                assert "authentication required" in str(err.value).lower() \
                    or "unauthorized" in str(err.value).lower(), str(err.value)
                _assert_nothing_kept(daemon, f"{repo}:1", snapshots, img.layers[1].digest)
            client.pull(repo, tag="1", auth_config={"username": "alice", "password": "s3cret"})
            ran = daemon.berth("run", "--rm", f"{repo}:1", "cat", "/hello.txt").stdout
            assert ran == "behind a password\n"
        finally:
            client.close()
            daemon.berth("rmi", "-f", f"{repo}:1", check=False)
