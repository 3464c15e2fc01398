"""The upload state machine below HTTP (``UploadStore``), on every driver."""

from __future__ import annotations

import pytest
from tests.unit.registry.server.images import digest_of

from berth.registry.server.errcode import ErrorCode, RegistryError
from berth.registry.server.registry import Registry


@pytest.fixture
def registry(driver):
    return Registry(driver)


def _write(registry, name, uuid, data, start=None):
    writer = registry.uploads.open(name, uuid, start)
    try:
        writer.write(data)
    finally:
        writer.close()
    return writer.size


def test_chunks_then_commit(registry):
    status = registry.uploads.start("app")
    assert _write(registry, "app", status.uuid, b"hello ", 0) == 6
    assert _write(registry, "app", status.uuid, b"world", 6) == 11
    assert registry.uploads.status("app", status.uuid).size == 11
    info = registry.uploads.commit("app", status.uuid, digest_of(b"hello world"))
    assert (info.digest, info.size) == (digest_of(b"hello world"), 11)
    with registry.blobs.open("app", info.digest) as f:
        assert f.read() == b"hello world"
    with pytest.raises(RegistryError) as err:
        registry.uploads.status("app", status.uuid)
    assert err.value.code is ErrorCode.BLOB_UPLOAD_UNKNOWN


def test_a_second_concurrent_writer_is_refused(registry):
    status = registry.uploads.start("app")
    first = registry.uploads.open("app", status.uuid)
    try:
        with pytest.raises(RegistryError) as err:
            registry.uploads.open("app", status.uuid)
        assert err.value.code is ErrorCode.BLOB_UPLOAD_INVALID
    finally:
        first.close()
    _write(registry, "app", status.uuid, b"x")  # free again once the first closed


def test_out_of_order_start_is_range_invalid(registry):
    status = registry.uploads.start("app")
    _write(registry, "app", status.uuid, b"abc")
    with pytest.raises(RegistryError) as err:
        registry.uploads.open("app", status.uuid, 1)
    assert (err.value.code, err.value.status) == (ErrorCode.RANGE_INVALID, 416)
    assert _write(registry, "app", status.uuid, b"d", 3) == 4  # the lock was released


def test_hash_is_recomputed_when_the_memory_state_is_lost(registry, driver):
    status = registry.uploads.start("app")
    _write(registry, "app", status.uuid, b"first half, ")
    fresh = Registry(driver)  # another process, or a restart: no hash state in memory
    _write(fresh, "app", status.uuid, b"second half")
    info = fresh.uploads.commit("app", status.uuid, digest_of(b"first half, second half"))
    assert info.size == len(b"first half, second half")


def test_committing_existing_content_keeps_one_copy(registry):
    for name in ("one", "two"):
        status = registry.uploads.start(name)
        _write(registry, name, status.uuid, b"same")
        registry.uploads.commit(name, status.uuid, digest_of(b"same"))
    assert registry.blobs.stat("one", digest_of(b"same")).size == 4
    assert registry.blobs.stat("two", digest_of(b"same")).size == 4
