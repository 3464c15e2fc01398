"""berthd pulls every layer media type docker and OCI define (plain tar, gzip, zstd), from
OCI and Docker manifests and from indexes (this host's entry, or ``--platform``'s), and runs
the result; a manifest it cannot run is refused before any layer is fetched."""

from __future__ import annotations

import platform
from collections.abc import Iterator

import pytest

from berth.oci import image
from tests.compat.daemon import Daemon, inspect, registry_server
from tests.compat.seed import (
    Layer,
    digest_of,
    hello_layer,
    make_image,
    make_index,
    push_image,
)
from tests.tarballs import tar_of


@pytest.fixture(scope="module")
def registry(daemon: Daemon, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with registry_server(tmp_path_factory.mktemp("registry")) as address:
        yield address


def _blob_stored(daemon: Daemon, digest: str) -> bool:
    return (daemon.data_root / "content/blobs/sha256" / digest.split(":")[1]).exists()


@pytest.mark.parametrize(("manifest_type", "layer_type"), [
    (image.MEDIA_TYPE_OCI_MANIFEST, image.MEDIA_TYPE_OCI_LAYER),
    (image.MEDIA_TYPE_OCI_MANIFEST, image.MEDIA_TYPE_OCI_LAYER_GZIP),
    (image.MEDIA_TYPE_OCI_MANIFEST, image.MEDIA_TYPE_OCI_LAYER_ZSTD),
    (image.MEDIA_TYPE_DOCKER_MANIFEST, image.MEDIA_TYPE_DOCKER_LAYER),
    (image.MEDIA_TYPE_DOCKER_MANIFEST, image.MEDIA_TYPE_DOCKER_LAYER_GZIP),
    (image.MEDIA_TYPE_DOCKER_MANIFEST, image.MEDIA_TYPE_DOCKER_LAYER_ZSTD),
], ids=lambda t: t.rsplit(".", 2)[-2] + "." + t.rsplit(".", 1)[-1])
def test_each_layer_type_pulls_unpacks_and_runs(daemon: Daemon, registry: str,
                                                manifest_type: str, layer_type: str) -> None:
    text = f"layer of type {layer_type}\n"
    second = Layer(tar_of({"etc/second": b"2\n"}), layer_type)
    img = make_image(daemon, [hello_layer(text, layer_type), second],
                     manifest_type=manifest_type)
    ref = f"{registry}/layers/t{abs(hash(layer_type)) % 10**8}:1"
    digest = push_image(registry, ref.split("/", 1)[1], img)
    try:
        out = daemon.berth("pull", ref, timeout=120).stdout
        assert f"Digest: {digest}" in out and "Pull complete" in out, out
        ran = daemon.berth("run", "--rm", ref, "cat", "/hello.txt", "/etc/second").stdout
        assert ran == text + "2\n"
        layers = inspect(daemon, ref)["RootFS"]["Layers"]  # diff_ids: uncompressed
        assert layers[2] == digest_of(second.tar)  # type: ignore[index]
    finally:
        daemon.berth("rmi", "-f", ref, check=False)


def test_an_unknown_layer_media_type_is_refused(daemon: Daemon, registry: str) -> None:
    odd = "application/vnd.example.layer.v1.tar+lz4"
    img = make_image(daemon, [Layer(tar_of({"x": b"x"}), odd)])
    ref = f"{registry}/layers/odd:1"
    push_image(registry, "layers/odd:1", img)
    failed = daemon.berth("pull", ref, check=False)
    assert failed.returncode == 1
    assert f"unsupported media type {odd} for layer {img.layers[1].digest}" in failed.stderr
    assert daemon.berth("image", "inspect", ref, check=False).returncode == 1
    assert not _blob_stored(daemon, img.layers[1].digest)  # refused before fetching


def test_an_index_gives_this_hosts_image_or_the_platform_asked_for(daemon: Daemon,
                                                                  registry: str) -> None:
    amd64 = make_image(daemon, [hello_layer("amd64\n")], architecture="amd64")
    arm64 = make_image(daemon, [hello_layer("arm64\n")], architecture="arm64")
    index = make_index({"linux/amd64": amd64, "linux/arm64/v8": arm64})
    ref = f"{registry}/layers/multi:1"
    digest = push_image(registry, "layers/multi:1", index)
    try:
        out = daemon.docker("pull", ref, timeout=120).stdout
        assert f"Digest: {digest}" in out, out
        assert daemon.berth("run", "--rm", ref, "cat", "/hello.txt").stdout == "amd64\n"
        assert inspect(daemon, ref)["Architecture"] == "amd64"
        daemon.docker("pull", "--platform", "linux/arm64", ref, timeout=120)
        assert inspect(daemon, ref)["Architecture"] == "arm64"
        bad = daemon.docker("pull", "--platform", "linux/s390x", ref, check=False)
        assert "no matching manifest for linux/s390x in the manifest list entries" \
            in bad.stderr, bad.stderr
    finally:
        daemon.berth("rmi", "-f", ref, check=False)


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the index leaves out amd64")
def test_an_index_without_this_host_is_dockers_error(daemon: Daemon, registry: str) -> None:
    arm64 = make_image(daemon, [hello_layer("arm64\n")], architecture="arm64")
    arm = make_image(daemon, [hello_layer("arm\n")], architecture="arm")
    push_image(registry, "layers/armonly:1",
               make_index({"linux/arm64": arm64, "linux/arm/v7": arm}))
    ref = f"{registry}/layers/armonly:1"
    failed = daemon.berth("pull", ref, check=False)
    assert failed.returncode == 1
    assert "Error response from daemon: no matching manifest for linux/amd64 in the " \
        "manifest list entries" in failed.stderr, failed.stderr
    assert daemon.berth("image", "inspect", ref, check=False).returncode == 1
