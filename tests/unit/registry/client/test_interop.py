"""Against the CNCF distribution registry (Debian's ``docker-registry``)."""

from __future__ import annotations

import asyncio
import shutil

import pytest
from tests.unit.registry.client.images import blobs_of, make_image
from tests.unit.registry.server.process import distribution_registry

from berth.oci import reference
from berth.registry.client import Pusher, PushResult, RegistrySession, pull, push
from berth.registry.client.descriptor import parse_manifest
from berth.store.content import ContentStore

BINARY = shutil.which("docker-registry")


@pytest.mark.skipif(BINARY is None, reason="the docker-registry binary is not installed")
def test_push_then_pull_against_distribution(tmp_path):
    assert BINARY is not None
    source, sink = ContentStore(tmp_path / "a"), ContentStore(tmp_path / "b")
    desc = make_image(source, layer_size=40_000)
    manifest = parse_manifest(source.read(desc.digest))
    with distribution_registry(BINARY, tmp_path / "root", tmp_path) as port:
        first = reference.parse(f"127.0.0.1:{port}/one/app:v1")
        second = reference.parse(f"127.0.0.1:{port}/two/app:v1")

        async def go() -> list[PushResult]:
            async with RegistrySession() as session:
                # chunked PATCH uploads for the layers, monolithic for the config
                pusher = Pusher(session, chunk_size=16 * 1024)
                for blob in (manifest.config, *manifest.layers):
                    await pusher.push_blob(first, blob, source)
                assert await push(session, first, desc, source) == desc.digest
                mounted = [await pusher.push_blob(second, b, source, mount_from="one/app")
                           for b in manifest.layers]
                await push(session, second, desc, source)
                pulled = await pull(session, second, sink)
                assert pulled.manifest == desc
                return mounted

        assert asyncio.run(go()) == [PushResult.MOUNTED] * 2
    assert blobs_of(sink) == blobs_of(source)
