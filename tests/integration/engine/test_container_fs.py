"""docker cp / diff / commit on the real services (busybox, overlay, shims): a running
container sees what is put into it, a stopped one is read and written without a mount,
nothing leaves the root, a 1 GiB file streams both ways in bounded memory."""

from __future__ import annotations

import asyncio
import io
import os
import resource
import secrets
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.integration.engine.harness import engine
from tests.tarballs import entry, make_tar

from berth.engine.containers.archive import ExtractOptions
from berth.engine.containers.changes import Change, Kind
from berth.engine.containers.commit import CommitOptions
from berth.engine.containers.model import ContainerSpec
from berth.errors import InvalidArgument, NotFound

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root, overlayfs and cgroups"),
]


def tar_bytes(*entries: tuple[str, bytes | str]) -> bytes:
    """(name, bytes) a file, (name, str) a symlink to that target."""
    return make_tar(*(entry(name, tarfile.SYMTYPE, linkname=content)
                      if isinstance(content, str) else entry(name, data=content)
                      for name, content in entries))


async def body(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), 4096):
        yield data[i:i + 4096]


async def read_tar(chunks: AsyncIterator[bytes]) -> dict[str, bytes | None]:
    data = b"".join([c async for c in chunks])
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return {m.name: (f.read() if (f := tf.extractfile(m)) else None)
                for m in tf.getmembers()}


def test_cp_diff_commit_on_a_running_container(root: Path) -> None:
    async def main() -> None:
        async with engine(root) as e:
            c = await e.containers.create(None, ContainerSpec(image="busybox",
                                                              cmd=("sleep", "300")))
            await e.containers.start(c.id)
            inside = Path(f"/proc/{e.containers.get(c.id).state.pid}/root")
            # looked up (and missed) first: overlayfs caches that; a cp must still show
            assert not (inside / "tmp" / "hello.txt").exists()
            await e.archive.put(c.id, "/tmp", body(tar_bytes(("hello.txt", b"hi"))),
                                ExtractOptions())
            assert (inside / "tmp" / "hello.txt").read_bytes() == b"hi"  # seen inside
            # a link to "/" made by the archive, then written through: the container's /
            await e.archive.put(c.id, "/tmp", body(tar_bytes(("root", "/"))),
                                ExtractOptions())
            marker = f"berth-cp-{secrets.token_hex(4)}"
            await e.archive.put(c.id, "/tmp/root", body(tar_bytes((marker, b"in"))),
                                ExtractOptions())
            assert (inside / marker).read_bytes() == b"in"
            assert not Path("/" + marker).exists()
            with pytest.raises(InvalidArgument):
                await e.archive.put(c.id, "/tmp", body(tar_bytes(("../../x", b""))),
                                    ExtractOptions())
            # what the container writes itself is read back
            (inside / "tmp" / "made-inside").write_bytes(b"from the container")
            found, chunks = await e.archive.get(c.id, "/tmp/made-inside")
            assert found.name == "made-inside" and found.size == 18
            assert await read_tar(chunks) == {"made-inside": b"from the container"}
            # a file the container made, replaced by a cp: the new content inside
            await e.archive.put(c.id, "/tmp", body(tar_bytes(("made-inside", b"cp"))),
                                ExtractOptions())
            assert (inside / "tmp" / "made-inside").read_bytes() == b"cp"
            st = await e.archive.stat(c.id, "/tmp/root")
            assert st.link_target == "/" and st.mode & (1 << 27)
            with pytest.raises(NotFound, match="Could not find the file /nope"):
                await e.archive.stat(c.id, "/nope")

            changes = await e.changes.changes(c.id)
            assert Change("/tmp", Kind.MODIFIED) in changes
            assert Change("/tmp/hello.txt", Kind.ADDED) in changes
            assert not any(ch.path.startswith("/etc/") for ch in changes)

            image_id = await e.commits.commit(c.id, CommitOptions(
                repo="committed", tag="v1", comment="snap", author="me",
                changes=('CMD ["cat", "/tmp/hello.txt"]', "ENV X=1")))
            assert e.containers.get(c.id).state.running  # unpaused after
            image = await e.images.get("committed:v1")
            assert image.id == image_id
            config = image.config["config"]
            assert config["Cmd"] == ["cat", "/tmp/hello.txt"] and "X=1" in config["Env"]
            assert image.config["history"][-1].get("comment") == "snap"
            # a container of the new image has the file; it is stopped: read unmounted
            d = await e.containers.create(None, ContainerSpec(image="committed:v1"))
            _, chunks = await e.archive.get(d.id, "/tmp/hello.txt")
            assert await read_tar(chunks) == {"hello.txt": b"hi"}
            with pytest.raises(NotFound):  # no runtime placeholder committed
                await e.archive.get(d.id, "/etc/hosts")

    asyncio.run(asyncio.wait_for(main(), 120))


def test_stopped_container_and_a_gigabyte_in_bounded_memory(root: Path) -> None:
    size = 1 << 30

    async def zeros() -> AsyncIterator[bytes]:
        info = tarfile.TarInfo("big")
        info.size = size
        yield info.tobuf(format=tarfile.PAX_FORMAT)
        block = bytes(1 << 20)
        for _ in range(size >> 20):
            yield block
        yield bytes(1024)

    async def main() -> None:
        async with engine(root) as e:
            c = await e.containers.create(None, ContainerSpec(image="busybox",
                                                              cmd=("true",)))
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            await e.archive.put(c.id, "/", zeros(), ExtractOptions())
            found, chunks = await e.archive.get(c.id, "/big")
            assert found.size == size
            total = 0
            async for chunk in chunks:
                total += len(chunk)
            assert total > size
            grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before  # KiB
            assert grown < 200 * 1024
            with pytest.raises(InvalidArgument, match="extraction point is not a directory"):
                await e.archive.put(c.id, "/big", body(tar_bytes(("x", b""))),
                                    ExtractOptions())

    asyncio.run(asyncio.wait_for(main(), 300))
