"""``/containers/{id}/archive``, ``/changes`` and ``/commit`` through the real routes, over
backends that are the engine's own ContainerFs and upper_changes on temporary layers."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import tarfile
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from berth.api.server.app import make_app
from berth.api.server.container_fs import ContainerFsRoutes, commit_config
from berth.engine import streams
from berth.engine.containers.archive import ContainerFs, ExtractOptions, PathStat
from berth.engine.containers.changes import Change, upper_changes
from berth.engine.containers.commit import CommitOptions
from berth.errors import InvalidArgument, NotFound
from berth.store.rootview import LayerTree

Client = TestClient[web.Request, web.Application]


class Fs:
    """One container "c1" whose root is ``upper`` over ``lower``."""

    def __init__(self, upper: Path, lower: Path) -> None:
        self.upper, self.lower = upper, lower
        self.fs = ContainerFs(LayerTree([upper, lower], writable=True))
        self.commits: list[tuple[str, CommitOptions]] = []

    def _check(self, ref: str) -> None:
        if ref != "c1":
            raise NotFound(f"No such container: {ref}")

    async def stat(self, ref: str, path: str) -> PathStat:
        self._check(ref)
        try:
            return self.fs.stat(path)
        except FileNotFoundError as err:
            raise NotFound(f"Could not find the file {path} in container {ref}") from err

    async def get(self, ref: str, path: str
                  ) -> tuple[PathStat, AsyncGenerator[bytes, None]]:
        found = await self.stat(ref, path)
        return found, streams.from_thread(lambda out: self.fs.write_tar(path, out))

    async def put(self, ref: str, path: str, body: AsyncIterator[bytes],
                  options: ExtractOptions) -> None:
        self._check(ref)
        data = b"".join([chunk async for chunk in body])
        await asyncio.to_thread(self.fs.extract, path, io.BytesIO(data), options)

    async def changes(self, ref: str) -> list[Change]:
        self._check(ref)
        return upper_changes(self.upper, LayerTree([self.lower]))

    async def commit(self, ref: str, options: CommitOptions) -> str:
        self._check(ref)
        self.commits.append((ref, options))
        return "sha256:" + "ab" * 32


def with_fs(test: Callable[[Client, Fs], Awaitable[None]]) -> Callable[[Path], None]:
    def run(tmp_path: Path) -> None:
        upper, lower = tmp_path / "upper", tmp_path / "lower"
        (lower / "etc").mkdir(parents=True)
        (lower / "etc" / "passwd").write_text("root")
        upper.mkdir()
        fs = Fs(upper, lower)

        async def main() -> None:
            app = make_app([ContainerFsRoutes(fs, fs, fs).register])
            async with TestClient(TestServer(app)) as client:
                await test(client, fs)
        asyncio.run(main())
    return run


def _stat(header: str) -> dict[str, object]:
    return dict(json.loads(base64.b64decode(header)))


@with_fs
async def test_head_and_get_carry_dockers_stat_header(client: Client, fs: Fs) -> None:
    resp = await client.head("/v1.45/containers/c1/archive", params={"path": "/etc/passwd"})
    assert resp.status == 200
    stat = _stat(resp.headers["X-Docker-Container-Path-Stat"])
    assert sorted(stat) == ["linkTarget", "mode", "mtime", "name", "size"]
    assert stat["name"] == "passwd" and stat["size"] == 4 and stat["linkTarget"] == ""
    resp = await client.get("/containers/c1/archive", params={"path": "/etc"})
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/x-tar"
    assert _stat(resp.headers["X-Docker-Container-Path-Stat"])["mode"] == (1 << 31) | 0o755
    with tarfile.open(fileobj=io.BytesIO(await resp.read())) as tf:
        assert tf.getnames() == ["etc", "etc/passwd"]


@with_fs
async def test_archive_errors_as_docker(client: Client, fs: Fs) -> None:
    resp = await client.get("/containers/c1/archive", params={"path": ""})
    assert resp.status == 400 and (await resp.json())["message"] == "path cannot be empty"
    resp = await client.get("/containers/c1/archive", params={"path": "/nope"})
    assert resp.status == 404
    assert (await resp.json())["message"] == "Could not find the file /nope in container c1"
    resp = await client.put("/containers/c1/archive", params={"path": "/etc/passwd"},
                            data=b"")
    assert resp.status == 400
    assert (await resp.json())["message"] == "extraction point is not a directory"


@with_fs
async def test_put_extracts_and_changes_list_it(client: Client, fs: Fs) -> None:
    resp = await client.get("/containers/c1/changes")
    assert resp.status == 200 and await resp.json() is None  # docker's nil slice
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tf:
        info = tarfile.TarInfo("new.txt")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"new"))
    resp = await client.put("/containers/c1/archive",
                            params={"path": "/etc", "noOverwriteDirNonDir": "true"},
                            data=out.getvalue())
    assert resp.status == 200, await resp.text()
    assert (fs.upper / "etc" / "new.txt").read_bytes() == b"new"
    resp = await client.get("/containers/c1/changes")
    assert await resp.json() == [{"Path": "/etc", "Kind": 0},
                                 {"Path": "/etc/new.txt", "Kind": 1}]


@with_fs
async def test_commit_reads_docker_query_and_body(client: Client, fs: Fs) -> None:
    resp = await client.post("/commit", params=[
        ("container", "c1"), ("repo", "app"), ("tag", "v1"), ("comment", "m"),
        ("author", "a"), ("changes", "ENV A=1"), ("changes", "EXPOSE 80")],
        data=json.dumps({"Cmd": "sh", "Env": ["B=2"], "Hostname": "ignored"}))
    assert resp.status == 201 and await resp.json() == {"Id": "sha256:" + "ab" * 32}
    ref, options = fs.commits[-1]
    assert ref == "c1" and options.repo == "app" and options.tag == "v1"
    assert options.pause and options.changes == ("ENV A=1", "EXPOSE 80")
    assert options.config == {"Cmd": ["sh"], "Env": ["B=2"]}
    resp = await client.post("/commit", params={"container": "c1", "pause": "0"}, data=b"null")
    assert resp.status == 201
    assert not fs.commits[-1][1].pause and fs.commits[-1][1].config is None
    resp = await client.post("/commit", params={"container": "nope"})
    assert resp.status == 404


def test_commit_config_refuses_what_is_no_config() -> None:
    assert commit_config(b"") is None and commit_config(b"{}") == {}
    for bad in (b"[1]", b"{"):
        with pytest.raises(InvalidArgument):
            commit_config(bad)
