"""Reading image archives without a daemon: entry names, links, digests, both layouts."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from tests.tarballs import tar_of

from berth.engine.images.archive import Archive, read_images
from berth.engine.images.filters import reference_matches
from berth.errors import InvalidArgument
from berth.oci.reference import parse


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tar(files: dict[str, bytes], links: dict[str, str] | None = None) -> io.BytesIO:
    return io.BytesIO(tar_of(files, symlinks=links))


CONFIG = json.dumps({"architecture": "amd64", "os": "linux",
                     "rootfs": {"type": "layers", "diff_ids": []}}).encode()


def test_old_layout_with_a_linked_layer() -> None:
    hex_id = _sha(CONFIG).split(":")[1]
    manifest = [{"Config": f"{hex_id}.json", "RepoTags": ["a:1"],
                 "Layers": ["aaa/layer.tar", "bbb/layer.tar"]}]
    archive = Archive(_tar({f"{hex_id}.json": CONFIG, "aaa/layer.tar": b"L",
                            "manifest.json": json.dumps(manifest).encode()},
                           {"bbb/layer.tar": "../aaa/layer.tar"}))
    [image] = read_images(archive)
    assert image.config == CONFIG and [t.familiar() for t in image.tags] == ["a:1"]
    assert [layer.digest for layer in image.layers] == [None, None]
    stream, size = archive.open("bbb/layer.tar")
    assert stream.read() == b"L" and size == 1


def test_escaping_names_and_bad_digests_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="points outside the archive"):
        Archive(_tar({"../evil": b"x"}))
    archive = Archive(_tar({"manifest.json": b"[]"}, {"link": "../../etc/passwd"}))
    with pytest.raises(InvalidArgument, match="points outside the archive"):
        archive.open("link")
    manifest = [{"Config": "blobs/sha256/" + "0" * 64, "Layers": []}]
    archive = Archive(_tar({"blobs/sha256/" + "0" * 64: CONFIG,
                            "manifest.json": json.dumps(manifest).encode()}))
    with pytest.raises(InvalidArgument, match="digest mismatch"):
        read_images(archive)


def test_oci_layout_names_from_annotations() -> None:
    config_desc = {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": _sha(CONFIG), "size": len(CONFIG)}
    manifest = json.dumps({"schemaVersion": 2, "config": config_desc, "layers": []}).encode()
    entry = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": _sha(manifest), "size": len(manifest)}
    index = {"schemaVersion": 2, "manifests": [
        {**entry, "annotations": {"org.opencontainers.image.ref.name": "latest"}},
        {**entry, "annotations": {"io.containerd.image.name": "example.com/x:2"}}]}
    files = {"index.json": json.dumps(index).encode(), "oci-layout": b"{}",
             f"blobs/sha256/{_sha(CONFIG)[7:]}": CONFIG,
             f"blobs/sha256/{_sha(manifest)[7:]}": manifest}
    [image] = read_images(Archive(_tar(files)))
    assert [t.string() for t in image.tags] == ["example.com/x:2"]
    assert image.manifest == manifest


def test_missing_manifest() -> None:
    with pytest.raises(InvalidArgument, match=r"manifest\.json not found"):
        read_images(Archive(_tar({"hello": b"x"})))


@pytest.mark.parametrize(("pattern", "ref", "match"), [
    ("busybox", "busybox:latest", True),
    ("busy*", "busybox:1", True),
    ("*", "team/app:1", False),  # * stops at "/", as Go's path.Match
    ("*/*", "team/app:1", True),
    ("busybox:[0-9]", "busybox:1", True),
    ("busybox:latest", "busybox:1", False),
])
def test_reference_filter_globs(pattern: str, ref: str, match: bool) -> None:
    assert reference_matches(pattern, parse(ref)) is match
