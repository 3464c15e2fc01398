import hashlib
import os

import pytest

from berth.errors import InvalidArgument, NotFound
from berth.store.content import ContentStore


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path):
    return ContentStore(tmp_path)


def test_write_read_info_walk_delete(store, tmp_path):
    info = store.write_blob(b"hello")
    assert info.digest == digest(b"hello") and info.size == 5
    assert (tmp_path / "content/blobs/sha256" / info.digest[7:]).read_bytes() == b"hello"
    assert store.exists(info.digest)
    assert store.read(info.digest) == b"hello"
    assert store.info(info.digest).size == 5
    with store.open(info.digest) as f:
        assert f.read(2) == b"he"
    assert [i.digest for i in store.walk()] == [info.digest]
    store.delete(info.digest)
    assert not store.exists(info.digest)
    with pytest.raises(NotFound):
        store.read(info.digest)
    with pytest.raises(NotFound):
        store.delete(info.digest)


def test_streamed_writer_verifies_expected_digest_and_size(store):
    data = b"x" * 100_000
    with store.writer(expected=digest(data), size=len(data)) as w:
        for i in range(0, len(data), 4096):
            w.write(data[i:i + 4096])
        assert w.commit().digest == digest(data)
    assert store.read(digest(data)) == data


def test_wrong_digest_never_becomes_visible(store):
    with store.writer(expected=digest(b"good")) as w:
        w.write(b"evil")
        with pytest.raises(InvalidArgument, match="unexpected commit digest"):
            w.commit()
    assert not store.exists(digest(b"good"))
    assert not store.exists(digest(b"evil"))
    assert os.listdir(store.ingest_dir) == []


def test_wrong_size_is_refused(store):
    with pytest.raises(InvalidArgument, match="size"):
        with store.writer(size=3) as w:
            w.write(b"four")
            w.commit()
    assert list(store.walk()) == []


def test_uncommitted_ingest_is_discarded(store):
    with store.writer() as w:
        w.write(b"partial")
        assert len(os.listdir(store.ingest_dir)) == 1
    assert os.listdir(store.ingest_dir) == []
    assert list(store.walk()) == []


def test_commit_of_existing_content_is_fine(store):
    a = store.write_blob(b"same")
    b = store.write_blob(b"same")
    assert a == b
    assert len(list(store.walk())) == 1


def test_cleanup_removes_crash_leftovers(store):
    (store.ingest_dir / "stale").write_bytes(b"half")
    store.cleanup()
    assert os.listdir(store.ingest_dir) == []


def test_malformed_digest_is_invalid(store):
    with pytest.raises(InvalidArgument):
        store.read("sha256:../../etc/passwd")


BLOB = os.urandom(10_000)


def test_resume_carries_on_after_a_closed_writer(store):
    first = store.resume(digest(BLOB), len(BLOB))
    assert first.offset == 0
    first.write(BLOB[:4000])
    first.close()  # as if the download was cut: the prefix stays
    assert os.listdir(store.ingest_dir) == [digest(BLOB)[7:]]
    second = store.resume(digest(BLOB), len(BLOB))
    assert second.offset == 4000 and second.written == 4000
    second.write(BLOB[4000:])
    assert second.digest() == digest(BLOB)  # the resumed prefix is hashed too
    second.commit()
    assert store.read(digest(BLOB)) == BLOB and os.listdir(store.ingest_dir) == []


def test_resume_of_a_held_ingest_gets_a_writer_of_its_own(store):
    held = store.resume(digest(BLOB), len(BLOB))
    held.write(BLOB[:100])
    other = store.resume(digest(BLOB), len(BLOB))
    assert other.offset == 0
    other.write(BLOB)
    other.commit()
    held.abort()
    assert store.read(digest(BLOB)) == BLOB and os.listdir(store.ingest_dir) == []


def test_a_wrong_resumed_blob_is_discarded(store):
    w = store.resume(digest(BLOB), len(BLOB))
    w.write(b"x" * len(BLOB))
    with pytest.raises(InvalidArgument, match="unexpected commit digest"):
        w.commit()
    assert os.listdir(store.ingest_dir) == []


def test_cleanup_keeps_fresh_resumable_ingests_only(store):
    keep, old, done = digest(b"keep")[7:], digest(b"old")[7:], store.write_blob(b"done")
    for name in (keep, old, done.digest[7:], "tmp-123"):
        (store.ingest_dir / name).write_bytes(b"pa")
    os.utime(store.ingest_dir / old, (1, 1))
    store.cleanup()
    assert os.listdir(store.ingest_dir) == [keep]
