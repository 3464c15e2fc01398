"""``RUN --mount`` flags: buildkit's defaults and error messages, the canonical text a
RUN's history and cache key hold, the secrets preamble of the /build body, and the
mount points dropped from a RUN's layer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.tarballs import tar_of

from berth import errors
from berth.client.build import secrets_preamble
from berth.engine.builder.errors import DockerfileError
from berth.engine.builder.mountpoints import drop_mount_points, drop_placeholders
from berth.engine.builder.mounts import MountType, Sharing, describe, parse_mount, parse_size
from berth.engine.builder.runmounts import parse_run_mounts
from berth.engine.builder.secretstore import SecretStore, take_preamble
from berth.store.rootview import LayerTree


def _same(value: str) -> str:
    return value


def test_defaults_per_type() -> None:
    cache = parse_mount("type=cache,target=/root/.cache", _same, 1)
    assert (cache.type, cache.readonly, cache.sharing, cache.id) == (
        MountType.CACHE, False, Sharing.SHARED, "")
    bind = parse_mount("target=/src", _same, 1)  # bind is the default type
    assert (bind.type, bind.readonly, bind.source) == (MountType.BIND, True, "")
    assert parse_mount("type=bind,target=/src,rw", _same, 1).readonly is False
    assert parse_mount("type=bind,target=/src,readwrite=true", _same, 1).readonly is False
    tmpfs = parse_mount("type=tmpfs,dst=/t,size=64m", _same, 1)
    assert (tmpfs.readonly, tmpfs.size, tmpfs.target) == (False, 64 << 20, "/t")
    secret = parse_mount("type=secret,id=tok,required", _same, 1)
    assert (secret.target, secret.id, secret.required, secret.readonly) == (
        "/run/secrets/tok", "tok", True, True)
    by_target = parse_mount("type=secret,target=/etc/key", _same, 1)
    assert (by_target.id, by_target.target) == ("key", "/etc/key")
    by_source = parse_mount("type=secret,src=aws,mode=0440,uid=5", _same, 1)
    assert (by_source.id, by_source.mode, by_source.uid) == ("aws", 0o440, 5)
    cache = parse_mount("type=cache,target=/c,id=x,sharing=locked,mode=0700,uid=1,gid=2",
                        _same, 1)
    assert (cache.id, cache.sharing, cache.mode, cache.uid, cache.gid) == (
        "x", Sharing.LOCKED, 0o700, 1, 2)


def test_values_are_expanded() -> None:
    env = {"DIR": "/cache/go"}
    mount = parse_mount("type=cache,target=$DIR", lambda v: v.replace("$DIR", env["DIR"]), 1)
    assert mount.target == "/cache/go"


@pytest.mark.parametrize(("value", "message"), [
    ("type=nfs,target=/x", 'unsupported mount type "nfs"'),
    ("type=bind,target=/x,bogus=1", "unexpected key 'bogus' in 'bogus=1'"),
    ("type=bind,target=/x,bogus", "unexpected key 'bogus' in 'bogus'"),
    ("type=bind,target=/x,required", "unexpected key 'required' for mount type 'bind'"),
    ("type=bind,target=/x,sharing=locked", "invalid cache sharing set for bind mount"),
    ("type=cache,target=/x,sharing=never", 'unsupported sharing value "never"'),
    ("type=cache,target=/x,size=1m", "unexpected key 'size' for mount type 'cache'"),
    ("type=tmpfs,target=/x,size=lots", "invalid value for size: lots"),
    ("type=bind,target=/x,mode=0755", 'mode not allowed for "bind" type mounts'),
    ("type=tmpfs,target=/x,uid=1", 'uid not allowed for "tmpfs" type mounts'),
    ("type=cache,target=/x,mode=999", "invalid value 999 for mode"),
    ("type=cache,target=/x,uid=-1", "invalid value -1 for uid"),
    ("type=bind,target=/x,ro=maybe", "invalid value for ro: maybe"),
    ("type=secret", "invalid secret mount. one of source, target required"),
    ("type=secret,id=a,source=b", "both source and id can't be set"),
    ("type=secret,id=a,from=stage", "secret mount should not have a from"),
    ('type=bind,"target=/x', "failed to parse csv mounts"),
])
def test_bad_flags_are_parse_errors(value: str, message: str) -> None:
    with pytest.raises(DockerfileError) as err:
        parse_mount(value, _same, 4)
    assert str(err.value.message).startswith(f"dockerfile parse error on line 4: {message}")
    assert err.value.line == 4


def test_unsupported_types_are_501() -> None:
    with pytest.raises(errors.NotImplemented):
        parse_mount("type=ssh", _same, 1)
    with pytest.raises(errors.NotImplemented):
        parse_mount("type=secret,id=a,env=TOKEN", _same, 1)


def test_targets_resolve_under_workdir_and_root_is_refused() -> None:
    mounts = parse_run_mounts(["type=cache,target=cache", "type=tmpfs,target=/t/../tmp"],
                              _same, "/app", 2)
    assert [(m.target, m.id) for m in mounts] == [("/tmp", ""), ("/app/cache", "/app/cache")]
    with pytest.raises(DockerfileError, match='invalid mount target "/"'):
        parse_run_mounts(["type=cache"], _same, "/", 2)


def test_sizes_like_docker_units() -> None:
    assert parse_size("4096") == 4096
    assert parse_size("1k") == 1024
    assert parse_size("1.5GiB") == 3 << 29
    assert parse_size("2MB") == 2 << 20


def test_describe_is_canonical_and_holds_no_secret() -> None:
    [a] = parse_run_mounts(["target=/root/.cache,type=cache"], _same, "/", 1)
    [b] = parse_run_mounts(["type=cache,dst=/root/.cache,sharing=shared"], _same, "/", 1)
    assert describe(a) == describe(b) == "type=cache,target=/root/.cache"
    [c] = parse_run_mounts(["type=cache,target=/c,id=go,sharing=locked,mode=0700"],
                           _same, "/", 1)
    assert describe(c) == "type=cache,target=/c,id=go,sharing=locked,mode=700"
    [s] = parse_run_mounts(["type=secret,id=tok,required"], _same, "/", 1)
    assert describe(s) == "type=secret,target=/run/secrets/tok,id=tok,required"
    [r] = parse_run_mounts(["type=bind,from=build,source=/out,target=/in,rw"], _same, "/", 1)
    assert describe(r) == "type=bind,from=build,source=/out,target=/in,rw"


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


@pytest.mark.parametrize("compression", ["", "gz"])
@pytest.mark.parametrize("chunk", [7, 512, 1 << 20])
def test_secrets_preamble_is_taken_off_the_context(tmp_path: Path, compression: str,
                                                   chunk: int) -> None:
    context = tar_of({"Dockerfile": b"FROM busybox\n", "a.txt": b"a\n"}, compression=compression)
    body = secrets_preamble([("tok", b"s3cret\n"), ("empty", b"")]) + context
    store = SecretStore(tmp_path / "secrets")

    async def run() -> bytes:
        rest, manifest = await take_preamble(_chunks(body, chunk), store)
        assert manifest is None
        return b"".join([c async for c in rest])

    assert asyncio.run(run()) == context
    path = store.file("tok", 0, 0, 0o400)
    assert path is not None and path.read_bytes() == b"s3cret\n"
    assert (path.stat().st_mode & 0o777) == 0o400
    assert (tmp_path / "secrets").stat().st_mode & 0o777 == 0o700
    assert store.file("missing", 0, 0, 0o400) is None
    store.cleanup()
    assert not (tmp_path / "secrets").exists()


def test_no_preamble_leaves_the_body_alone(tmp_path: Path) -> None:
    for body in (tar_of({"Dockerfile": b"FROM x\n"}), b"\x1f\x8b short", b""):
        store = SecretStore(tmp_path / "s")

        async def run(data: bytes = body, store: SecretStore = store) -> bytes:
            rest, _ = await take_preamble(_chunks(data, 100), store)
            return b"".join([c async for c in rest])

        assert asyncio.run(run()) == body
        assert not store.ids


def test_mount_points_are_dropped_but_real_changes_kept(tmp_path: Path) -> None:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    (lower / "root").mkdir(parents=True)
    (lower / "root").chmod(0o700)
    (upper / "root/.cache").mkdir(parents=True)  # mount point under a copied-up parent
    (upper / "root").chmod(0o700)
    (upper / "run/secrets").mkdir(parents=True)  # parents made for a file bind
    (upper / "run/secrets/tok").touch()
    (upper / "work/src").mkdir(parents=True)  # a mount point beside a real change
    (upper / "work/made.txt").write_text("kept\n")
    drop_mount_points(upper, LayerTree([lower]),
                      ["/root/.cache", "/run/secrets/tok", "/work/src"])
    assert sorted(p.relative_to(upper).as_posix() for p in upper.rglob("*")) == [
        "work", "work/made.txt"]


def test_a_mount_points_parent_turned_symlink_reaches_nothing_on_the_host(
        tmp_path: Path) -> None:
    # the RUN moved /p (holding its mount points) away and linked /p to a host directory
    # that holds an empty directory and an empty file of the mount points' names
    host, lower, upper = tmp_path / "host", tmp_path / "lower", tmp_path / "upper"
    (host / "d").mkdir(parents=True)
    (host / "f").touch()
    lower.mkdir()
    (upper / "p.moved/d").mkdir(parents=True)
    (upper / "p.moved/f").touch()
    (upper / "p").symlink_to(host)
    drop_mount_points(upper, LayerTree([lower]), ["/p/d", "/p/f"])
    assert (host / "d").is_dir() and (host / "f").is_file()
    assert (upper / "p").is_symlink()


def test_placeholders_are_dropped_but_never_through_a_link(tmp_path: Path) -> None:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    (lower / "etc").mkdir(parents=True)
    (lower / "etc/hostname").write_text("image\n")
    (upper / "etc").mkdir(parents=True)
    for name in ("hosts", "resolv.conf"):
        (upper / "etc" / name).touch()
    drop_placeholders(upper, LayerTree([lower]))
    assert list(upper.iterdir()) == []  # both files, then the emptied etc
    (upper / "etc").mkdir()
    (upper / "etc/hostname").touch()  # the image has one: an emptied file is a change
    drop_placeholders(upper, LayerTree([lower]))
    assert (upper / "etc/hostname").is_file()
    host = tmp_path / "host"
    host.mkdir()
    (host / "hosts").touch()
    (upper / "etc/hostname").unlink()
    (upper / "etc").rmdir()
    (upper / "etc").symlink_to(host)
    drop_placeholders(upper, LayerTree([lower]))
    assert (host / "hosts").is_file() and (upper / "etc").is_symlink()
