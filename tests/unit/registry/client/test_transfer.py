"""Push to and pull from berth's own registry server: the round trip and its shortcuts."""

from __future__ import annotations

import asyncio

import pytest
from tests.unit.registry.client.images import (
    blobs_of,
    make_image,
    make_index,
    serving,
)

from berth.errors import NotFound
from berth.oci import reference
from berth.registry.client import (
    Descriptor,
    Fetcher,
    Platform,
    Progress,
    Pusher,
    PushResult,
    RegistrySession,
    Resolver,
    State,
    pull,
    push,
)
from berth.registry.client.descriptor import parse_manifest
from berth.registry.server import create_app
from berth.registry.server.storage.memory import InMemoryDriver
from berth.store.content import ContentStore


@pytest.fixture
def port():
    with serving(create_app(InMemoryDriver())) as p:
        yield p


def ref(port: int, name: str = "app", tag: str = "v1") -> reference.Reference:
    return reference.parse(f"127.0.0.1:{port}/{name}:{tag}")


async def _push(r, desc, source, **kw) -> str:
    async with RegistrySession() as session:
        return await push(session, r, desc, source, **kw)


async def _pull(r, sink, **kw):
    async with RegistrySession() as session:
        return await pull(session, r, sink, **kw)


def test_push_then_pull_gives_identical_digests(port, tmp_path):
    source = ContentStore(tmp_path / "a")
    desc = make_image(source)
    assert asyncio.run(_push(ref(port), desc, source)) == desc.digest

    sink = ContentStore(tmp_path / "b")
    events: list[Progress] = []
    pulled = asyncio.run(_pull(ref(port), sink, progress=events.append))

    assert pulled.manifest == desc and pulled.index is None
    assert blobs_of(sink) == blobs_of(source)
    for digest in blobs_of(source):
        assert sink.read(digest) == source.read(digest)
    layer = pulled.layers[0]
    mine = [e for e in events if e.digest == layer.digest]
    assert mine[-1] == Progress(layer.digest, State.DOWNLOADED, layer.size, layer.size)
    assert any(e.state is State.DOWNLOADING for e in mine)


def test_repull_skips_blobs_already_present(port, tmp_path):
    source = ContentStore(tmp_path / "a")
    asyncio.run(_push(ref(port), make_image(source), source))
    sink = ContentStore(tmp_path / "b")
    asyncio.run(_pull(ref(port), sink))

    events: list[Progress] = []
    asyncio.run(_pull(ref(port), sink, progress=events.append))
    assert len(events) == 3
    assert {e.state for e in events} == {State.EXISTS}


def test_push_mounts_blobs_known_in_another_repository(port, tmp_path):
    source = ContentStore(tmp_path / "a")
    desc = make_image(source)
    asyncio.run(_push(ref(port, "first"), desc, source))
    manifest = parse_manifest(source.read(desc.digest))
    blobs = (manifest.config, *manifest.layers)

    async def push_to_second() -> list[PushResult]:
        async with RegistrySession() as session:
            pusher = Pusher(session)
            return [await pusher.push_blob(ref(port, "second"), b, source, mount_from="first")
                    for b in blobs]

    assert asyncio.run(push_to_second()) == [PushResult.MOUNTED] * 3
    events: list[Progress] = []
    asyncio.run(_push(ref(port, "second"), desc, source, progress=events.append))
    assert {e.state for e in events} == {State.EXISTS}  # mounted blobs are now there
    sink = ContentStore(tmp_path / "b")
    assert asyncio.run(_pull(ref(port, "second"), sink)).manifest == desc


def test_large_blobs_go_up_in_patch_chunks(port, tmp_path):
    source = ContentStore(tmp_path / "a")
    desc = make_image(source, layer_size=50_000)
    layer = parse_manifest(source.read(desc.digest)).layers[0]
    events: list[Progress] = []

    async def go() -> PushResult:
        async with RegistrySession() as session:
            return await Pusher(session, chunk_size=16 * 1024).push_blob(
                ref(port), layer, source, progress=events.append)

    assert asyncio.run(go()) is PushResult.UPLOADED
    assert [e.current for e in events if e.state is State.PUSHING] == [16384, 32768, 49152,
                                                                         50000]
    sink = ContentStore(tmp_path / "b")

    async def fetch() -> None:
        async with RegistrySession() as session:
            await Fetcher(session).fetch(ref(port), layer, sink)

    asyncio.run(fetch())
    assert sink.read(layer.digest) == source.read(layer.digest)


def test_pull_of_an_index_picks_the_platform(port, tmp_path):
    source = ContentStore(tmp_path / "a")
    amd64, arm64 = make_image(source, "amd64"), make_image(source, "arm64")
    index = make_index(source, {"linux/amd64": amd64, "linux/arm64/v8": arm64})
    asyncio.run(_push(ref(port), index, source))

    sink = ContentStore(tmp_path / "b")
    pulled = asyncio.run(_pull(ref(port), sink, platform=Platform("linux", "aarch64")))
    assert (pulled.manifest.digest, pulled.index) == (arm64.digest, index)
    assert {index.digest, arm64.digest} <= blobs_of(sink)
    assert amd64.digest not in blobs_of(sink)

    with pytest.raises(NotFound, match="no matching manifest for linux/s390x"):
        asyncio.run(_pull(ref(port), sink, platform=Platform("linux", "s390x")))


def test_resolve_by_tag_and_by_digest(port, tmp_path):
    source = ContentStore(tmp_path / "a")
    desc = make_image(source)
    asyncio.run(_push(ref(port), desc, source))

    async def resolve(text: str) -> Descriptor:
        async with RegistrySession() as session:
            return await Resolver(session).resolve(reference.parse(text))

    assert asyncio.run(resolve(f"127.0.0.1:{port}/app:v1")) == desc
    assert asyncio.run(resolve(f"127.0.0.1:{port}/app@{desc.digest}")) == desc
    with pytest.raises(NotFound, match="manifest unknown"):
        asyncio.run(resolve(f"127.0.0.1:{port}/app:nope"))
