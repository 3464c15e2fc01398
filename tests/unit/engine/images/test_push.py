"""ImageService.push, login and mirrors against berth's registry server in-process."""

from __future__ import annotations

import asyncio
import tarfile

import pytest
from tests.tarballs import entry, make_tar
from tests.unit.registry.client.images import serving
from tests.unit.registry.client.test_auth import bearer_registry
from tests.unit.registry.server.security import write_htpasswd

from berth.engine.images import ImageService
from berth.engine.images.push import PushProgress, PushStep
from berth.engine.images.registries import AuthConfig, RegistryOptions
from berth.errors import NotFound, Unauthorized
from berth.oci.reference import parse_named
from berth.registry.server import RegistryOptions as ServerOptions
from berth.registry.server import create_app
from berth.registry.server.storage.memory import InMemoryDriver
from berth.store.metadata.db import Database
from berth.store.snapshots.native import NativeSnapshotter


def make_service(root, registries: RegistryOptions | None = None) -> ImageService:
    root.mkdir(parents=True, exist_ok=True)
    return ImageService(root, Database(root / "metadata.db"),
                        NativeSnapshotter(root / "snapshots"), registries)


async def chunks(data: bytes):
    yield data


def imported(service: ImageService, tag: str) -> str:
    tar = make_tar(entry("etc", tarfile.DIRTYPE, mode=0o755),
                   entry("etc/hello", data=b"pushed\n"))
    return asyncio.run(service.import_image(chunks(tar), tag, [], "")).id


def push(service: ImageService, name: str, tag: str = "",
         auth: AuthConfig | None = None) -> tuple[list[PushProgress], list[str]]:
    events: list[PushProgress] = []

    async def record(event: PushProgress) -> None:
        events.append(event)

    pushed = asyncio.run(service.push(name, tag, record, auth))
    return events, [p.digest for p in pushed]


def steps(events: list[PushProgress]) -> list[PushStep]:
    return [e.step for e in events]


@pytest.fixture
def registry():
    with serving(create_app(InMemoryDriver())) as port:
        yield f"127.0.0.1:{port}"


def test_push_uploads_then_skips_then_mounts(tmp_path, registry):
    service = make_service(tmp_path / "a")
    image_id = imported(service, f"{registry}/team/app:1")
    events, [digest] = push(service, f"{registry}/team/app", "1")
    assert steps(events)[:2] == [PushStep.STARTED, PushStep.PREPARING]
    assert events[0].detail == f"{registry}/team/app"
    assert PushStep.PUSHING in steps(events) and steps(events)[-2:] == [
        PushStep.PUSHED, PushStep.TAGGED]
    diff_id = service._get(image_id).config["rootfs"]["diff_ids"][0]
    assert {e.layer for e in events if e.step is PushStep.PUSHED} == {diff_id}
    assert events[-1].detail == "1" and events[-1].layer == digest

    again, [same] = push(service, f"{registry}/team/app:1")
    assert PushStep.EXISTS in steps(again) and PushStep.PUSHING not in steps(again)
    assert same == digest

    asyncio.run(service.tag(image_id, f"{registry}/other/app", "2"))
    mounted, [copy] = push(service, f"{registry}/other/app", "2")
    [mount] = [e for e in mounted if e.step is PushStep.MOUNTED]
    assert mount.detail == "team/app" and copy == digest
    assert f"{registry}/team/app@{digest}" in service._get(image_id).repo_digests


def test_pulled_image_pushes_with_the_same_digest_and_mounts_from_its_source(tmp_path,
                                                                             registry):
    first = make_service(tmp_path / "a")
    imported(first, f"{registry}/src/app:1")
    _, [digest] = push(first, f"{registry}/src/app:1")
    second = make_service(tmp_path / "b")
    pulled = asyncio.run(second.pull(f"{registry}/src/app:1"))
    assert pulled.digest == digest
    asyncio.run(second.tag(pulled.image.id, f"{registry}/dst/app", "1"))
    events, [copy] = push(second, f"{registry}/dst/app:1")
    assert copy == digest
    assert [e.detail for e in events if e.step is PushStep.MOUNTED] == ["src/app"]


def test_push_without_tag_pushes_every_tag_and_missing_images_are_not_found(tmp_path,
                                                                           registry):
    service = make_service(tmp_path / "a")
    imported(service, f"{registry}/many/app:1")
    asyncio.run(service.tag(f"{registry}/many/app:1", f"{registry}/many/app", "2"))
    events, digests = push(service, f"{registry}/many/app")
    assert sorted(e.detail for e in events if e.step is PushStep.TAGGED) == ["1", "2"]
    assert len(set(digests)) == 1
    with pytest.raises(NotFound, match="An image does not exist locally with the tag: "
                                       f"{registry}/nosuch"):
        push(service, f"{registry}/nosuch", "1")
    with pytest.raises(NotFound, match=f"tag does not exist: {registry}/many/app:9"):
        push(service, f"{registry}/many/app", "9")


def test_login_basic_and_push_with_credentials(tmp_path):
    htpasswd = write_htpasswd(tmp_path / "htpasswd", {"alice": "s3cret"})
    with serving(create_app(InMemoryDriver(), ServerOptions(htpasswd=htpasswd))) as port:
        host = f"127.0.0.1:{port}"
        service = make_service(tmp_path / "a")
        with pytest.raises(Unauthorized, match=f"login attempt to http://{host}/v2/ failed"):
            asyncio.run(service.login(AuthConfig("alice", "nope", host)))
        asyncio.run(service.login(AuthConfig("alice", "s3cret", host)))
        imported(service, f"{host}/private/app:1")
        with pytest.raises(Unauthorized):
            push(service, f"{host}/private/app:1")
        push(service, f"{host}/private/app:1", auth=AuthConfig("alice", "s3cret", host))


def test_login_bearer(tmp_path):
    with bearer_registry() as (_, port):
        service = make_service(tmp_path / "a")
        host = f"127.0.0.1:{port}"
        asyncio.run(service.login(AuthConfig("alice", "s3cret", host)))
        with pytest.raises(Unauthorized):
            asyncio.run(service.login(AuthConfig("alice", "nope", host)))


def test_pull_goes_through_the_first_mirror_that_has_the_image(tmp_path, registry):
    source = make_service(tmp_path / "a")
    imported(source, f"{registry}/lib/app:1")
    _, [digest] = push(source, f"{registry}/lib/app:1")
    with serving(create_app(InMemoryDriver())) as empty:
        mirrors = {"mirrored.example:5000": (f"http://127.0.0.1:{empty}",
                                             f"http://{registry}")}
        service = make_service(tmp_path / "b", RegistryOptions(mirrors=mirrors))
        result = asyncio.run(service.pull("mirrored.example:5000/lib/app:1"))
    assert result.digest == digest
    assert result.image.repo_tags == ("mirrored.example:5000/lib/app:1",)


def test_daemon_options_reach_the_session():
    options = RegistryOptions(insecure=frozenset({"10.0.0.0/8", "lan.example:5000"}),
                              default_registry="10.1.1.1:5000")
    for name, url in (("lan.example:5000/a:1", "http://lan.example:5000/v2/"),
                      ("10.9.9.9/a:1", "http://10.9.9.9/v2/"),
                      ("quay.io/a:1", "https://quay.io/v2/"),
                      ("busybox", "http://10.1.1.1:5000/v2/")):
        ref = parse_named(name)
        assert str(options.session(ref).endpoint(ref).base) == url
