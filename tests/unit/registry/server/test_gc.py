"""Offline garbage collection: referenced blobs stay, the rest go, a dry run changes nothing."""

from __future__ import annotations

import pytest
from tests.unit.registry.server.images import (
    OCI_INDEX,
    Blob,
    make_image,
    manifest_blob,
    pull_image,
    push_image,
    push_monolithic,
    put_manifest,
)

from berth.registry.server import paths
from berth.registry.server.gc import collect, garbage_collect
from berth.registry.server.storage import PathNotFound
from berth.registry.server.storage.filesystem import FilesystemDriver


def _stored(driver):
    try:
        prefixes = driver.list(f"{paths.BLOBS}/sha256")
    except PathNotFound:
        return set()
    return {f"sha256:{h}" for p in prefixes for h in driver.list(f"{paths.BLOBS}/sha256/{p}")}


@pytest.fixture
def populated(client, driver):
    """kept: a tagged image, an untagged image, an index and its children; garbage: an
    orphan blob, and the blobs of an image whose manifest was deleted."""
    tagged, untagged, child = make_image("t"), make_image("u"), make_image("c")
    deleted = make_image("d")
    push_image(client, "app", "v1", tagged)
    push_image(client, "app", untagged.manifest.digest, untagged)
    push_image(client, "other/multi", child.manifest.digest, child)
    index = manifest_blob({"schemaVersion": 2, "manifests": [child.manifest.descriptor()]},
                          OCI_INDEX)
    put_manifest(client, "other/multi", "latest", index)
    push_image(client, "gone", "v1", deleted)
    assert client.request("DELETE", f"/v2/gone/manifests/{deleted.manifest.digest}"
                          ).status == 202
    orphan = Blob("application/octet-stream", b"nobody references me")
    push_monolithic(client, "app", orphan)
    kept = {b.digest for img in (tagged, untagged, child) for b in (*img.blobs, img.manifest)}
    kept.add(index.digest)
    garbage = {b.digest for b in (*deleted.blobs, deleted.manifest, orphan)}
    return {"kept": kept, "garbage": garbage, "images": (tagged, untagged, child),
            "orphan": orphan}


def test_gc_sweeps_only_unreferenced_blobs(client, driver, populated):
    assert _stored(driver) == populated["kept"] | populated["garbage"]
    report = collect(driver, dry_run=False)
    assert not report.dry_run
    assert report.marked == populated["kept"]
    assert set(report.deleted_blobs) == populated["garbage"]
    assert report.freed_bytes > 0
    assert _stored(driver) == populated["kept"]
    assert f"app@{populated['orphan'].digest}" in report.deleted_links
    tagged, untagged, child = populated["images"]
    assert pull_image(client, "app", "v1") == tagged
    assert pull_image(client, "app", untagged.manifest.digest) == untagged
    assert pull_image(client, "other/multi", child.manifest.digest) == child
    assert client.head(f"/v2/app/blobs/{populated['orphan'].digest}").status == 404
    assert collect(driver, dry_run=False).deleted_blobs == ()  # idempotent


def test_dry_run_changes_nothing(driver, populated):
    before = dict(getattr(driver, "files", {}))
    stored = _stored(driver)
    report = collect(driver, dry_run=True)
    assert report.dry_run
    assert set(report.deleted_blobs) == populated["garbage"]
    assert _stored(driver) == stored
    if before:
        assert driver.files == before


@pytest.mark.parametrize("driver", ["filesystem"], indirect=True)
def test_garbage_collect_on_a_root_directory(driver, populated, tmp_path):
    root = tmp_path / "registry"
    files_before = sorted(p for p in root.rglob("*"))
    assert garbage_collect(root, dry_run=True).deleted_blobs
    assert sorted(p for p in root.rglob("*")) == files_before
    report = garbage_collect(root)
    assert set(report.deleted_blobs) == populated["garbage"]
    assert _stored(FilesystemDriver(root)) == populated["kept"]


def test_gc_of_an_empty_registry(driver):
    report = collect(driver, dry_run=False)
    assert (report.marked, report.deleted_blobs, report.freed_bytes) == (frozenset(), (), 0)
