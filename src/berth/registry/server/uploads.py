"""Blob uploads: the push state machine of the distribution spec.

One upload is ``_uploads/<uuid>/`` in its repository. Bytes are appended in order, hashed as
they are written, and the finished file is verified and renamed into ``blobs/``::

    POST /blobs/uploads/ ──────────────▶ ACTIVE, offset 0        202 Location, Range: 0-0
       │ (?digest=D with body: ACTIVE ─▶ commit in one request)  201
       │ (?mount=D&from=R, R has D: no upload at all)            201
       ▼
    ACTIVE(offset n) ── PATCH [Content-Range n-m] body ──▶ ACTIVE(offset m+1)   202 Range 0-m
       │          └──── PATCH Content-Range k-m, k != n ─▶ unchanged            416
       │          └──── GET ────────────────────────────▶ unchanged            204 Range
       ├── PUT ?digest=D [final chunk] ── sha256 == D ────▶ COMMITTED            201
       │                               └─ sha256 != D ────▶ CANCELLED           400 DIGEST_INVALID
       └── DELETE ────────────────────────────────────────▶ CANCELLED           204
    COMMITTED / CANCELLED: the uuid is gone (BLOB_UPLOAD_UNKNOWN); COMMITTED linked the blob.

The running sha256 is kept in memory between requests (hashlib states cannot be stored);
if it is missing or stale (a restarted server, another process) it is recomputed from the
data file, so no request ever needs the whole blob in memory. One request writes an
upload at a time; a concurrent second writer is refused rather than interleaved.
"""

from __future__ import annotations

import hashlib
import threading
import uuid as uuids
from dataclasses import dataclass, field
from datetime import UTC, datetime

from berth.registry.server import paths
from berth.registry.server.blobs import BlobInfo, BlobStore
from berth.registry.server.errcode import ErrorCode, RegistryError
from berth.registry.server.storage import FileWriter, PathNotFound, StorageDriver

_REHASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class UploadStatus:
    name: str
    uuid: str
    size: int  # bytes received; the offset the next chunk must start at


@dataclass
class _HashState:
    size: int
    hasher: hashlib._Hash = field(default_factory=hashlib.sha256)
    busy: threading.Lock = field(default_factory=threading.Lock)


def unknown_upload(uuid: str) -> RegistryError:
    return RegistryError(ErrorCode.BLOB_UPLOAD_UNKNOWN, detail={"uuid": uuid})


class UploadWriter:
    """Appends one request's bytes to an upload; ``close`` always, even after an error."""

    def __init__(self, name: str, uuid: str, file: FileWriter, state: _HashState) -> None:
        self.name, self.uuid = name, uuid
        self._file, self._state = file, state

    @property
    def size(self) -> int:
        return self._state.size

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._state.hasher.update(data)
        self._state.size += len(data)

    def close(self) -> None:
        try:
            self._file.close()
        finally:
            self._state.busy.release()


class UploadStore:
    def __init__(self, driver: StorageDriver, blobs: BlobStore) -> None:
        self.driver = driver
        self.blobs = blobs
        self._states: dict[str, _HashState] = {}
        self._lock = threading.Lock()

    def start(self, name: str) -> UploadStatus:
        uuid = str(uuids.uuid4())
        started = datetime.now(UTC).isoformat().encode()
        self.driver.put_content(paths.upload_started_at(name, uuid), started)
        self.driver.writer(paths.upload_data(name, uuid)).close()
        with self._lock:
            self._states[uuid] = _HashState(size=0)
        return UploadStatus(name, uuid, 0)

    def status(self, name: str, uuid: str) -> UploadStatus:
        return UploadStatus(name, uuid, self._stored_size(name, uuid))

    def _stored_size(self, name: str, uuid: str) -> int:
        try:
            uuids.UUID(uuid)
            return self.driver.stat(paths.upload_data(name, uuid)).size
        except (ValueError, PathNotFound) as err:
            raise unknown_upload(uuid) from err

    def _state(self, name: str, uuid: str) -> _HashState:
        """The hash of the stored bytes, recomputed from storage when not current."""
        stored = self._stored_size(name, uuid)
        with self._lock:
            state = self._states.get(uuid)
            if state is not None and state.size == stored:
                return state
            state = self._states[uuid] = _HashState(size=0)
        with self.driver.reader(paths.upload_data(name, uuid)) as f:
            while chunk := f.read(_REHASH_CHUNK):
                state.hasher.update(chunk)
                state.size += len(chunk)
        return state

    def open(self, name: str, uuid: str, start: int | None = None) -> UploadWriter:
        """A writer appending at the current offset; ``start`` (from Content-Range) must
        equal it, else RANGE_INVALID (416): chunks arrive in order or not at all."""
        state = self._state(name, uuid)
        if not state.busy.acquire(blocking=False):
            raise RegistryError(ErrorCode.BLOB_UPLOAD_INVALID, "upload is being written by "
                                "another request", detail={"uuid": uuid})
        try:
            if start is not None and start != state.size:
                raise RegistryError(ErrorCode.RANGE_INVALID, f"chunk starts at {start}, "
                                    f"upload is at {state.size}", detail={"uuid": uuid,
                                                                          "offset": state.size})
            file = self.driver.writer(paths.upload_data(name, uuid), append=True)
        except BaseException:
            state.busy.release()
            raise
        return UploadWriter(name, uuid, file, state)

    def commit(self, name: str, uuid: str, digest: str) -> BlobInfo:
        """Verify the upload against ``digest`` and make it blob ``digest`` of ``name``.

        Any failure cancels the upload, as distribution does: the client starts over."""
        state = self._state(name, uuid)
        if not state.busy.acquire(blocking=False):
            raise RegistryError(ErrorCode.BLOB_UPLOAD_INVALID, "upload is being written by "
                                "another request", detail={"uuid": uuid})
        try:
            actual = "sha256:" + state.hasher.hexdigest()
            if actual != digest:
                self._drop(name, uuid)
                raise RegistryError(ErrorCode.DIGEST_INVALID, detail={
                    "digest": digest, "actual": actual, "size": state.size})
            self.blobs.ingest(paths.upload_data(name, uuid), digest)
            self.blobs.link(name, digest)
            self._drop(name, uuid)
            return BlobInfo(digest, state.size)
        finally:
            state.busy.release()

    def cancel(self, name: str, uuid: str) -> None:
        self._stored_size(name, uuid)
        self._drop(name, uuid)

    def _drop(self, name: str, uuid: str) -> None:
        with self._lock:
            self._states.pop(uuid, None)
        try:
            self.driver.delete(paths.upload_dir(name, uuid))
        except PathNotFound:
            pass
