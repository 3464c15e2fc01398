"""The real ImageService passes the image backends' conformance suite (the one
FakeImageBackend passes: tests/unit/api/server/image_backend_suite.py), on a temporary data
root with the native snapshotter. Its images come in through ``import_image`` (one small
layer, shared by all of them), so neither root nor a registry is needed."""

from __future__ import annotations

import contextlib
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.tarballs import entry, make_tar
from tests.unit.api.server.image_backend_suite import ImageBackendSuite, Images

from berth.engine.images.image import Image
from berth.engine.images.service import ImageService
from berth.store.metadata.db import Database
from berth.store.snapshots.native import NativeSnapshotter

ROOTFS = make_tar(entry("bin", tarfile.DIRTYPE, mode=0o755),
                  entry("bin/hello", data=b"#!/bin/sh\necho hi\n", mode=0o755))


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


class TestImageService(ImageBackendSuite):
    @pytest.fixture(autouse=True)
    def _root(self, tmp_path: Path) -> None:
        self.root = tmp_path

    @contextlib.asynccontextmanager
    async def open_images(self) -> AsyncIterator[Images]:
        db = Database(self.root / "metadata.db")
        service = ImageService(self.root, db, NativeSnapshotter(self.root / "snapshots"))

        async def add(name: str, labels: dict[str, str] | None = None) -> Image:
            changes = [f"LABEL {key}={value}" for key, value in (labels or {}).items()]
            return await service.import_image(_once(ROOTFS), name, changes, "")

        try:
            yield Images(service, add)
        finally:
            db.close()
