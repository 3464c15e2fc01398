"""ContainerFs: docker cp's stat / tar / extract over a layer stack (plain directories:
a lower layer and a writable upper), never leaving the root."""

from __future__ import annotations

import asyncio
import gzip
import io
import os
import tarfile
import threading
from pathlib import Path

import pytest
from tests import tarballs
from tests.tarballs import entry

from berth.engine.containers.archive import (
    BodyFeed,
    ContainerFs,
    ExtractOptions,
    FsMount,
    TarInput,
    absolute,
    go_base,
    go_file_mode,
)
from berth.errors import InvalidArgument
from berth.store.rootview import LayerTree


@pytest.fixture
def layers(tmp_path: Path) -> tuple[Path, Path]:
    upper, lower = tmp_path / "upper", tmp_path / "lower"
    (lower / "etc").mkdir(parents=True)
    (lower / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (lower / "tmp").mkdir()
    (lower / "bin").mkdir()
    (lower / "bin" / "sh").write_bytes(b"shell")
    os.symlink("/", lower / "rootlink")
    os.symlink("../../../../etc", lower / "tmp" / "up")
    os.symlink("passwd", lower / "etc" / "pw")
    upper.mkdir()
    (upper / "new.txt").write_text("new")
    (tmp_path / "host-secret").write_text("host")
    return upper, lower


def fs_of(layers: tuple[Path, Path], mounts: tuple[FsMount, ...] = (),
          readonly: bool = False) -> ContainerFs:
    return ContainerFs(LayerTree(list(layers), writable=True), mounts, readonly)


def tar_of(fs: ContainerFs, path: str) -> dict[str, tarfile.TarInfo]:
    out = io.BytesIO()
    fs.write_tar(path, out)
    out.seek(0)
    with tarfile.open(fileobj=out) as tf:
        return {m.name: m for m in tf.getmembers()}


MTIME = 1_600_000_000


def make_tar(*entries: tuple[str, bytes | str | None]) -> io.BytesIO:
    """(name, content): bytes a file, str a symlink target, None a directory."""
    return io.BytesIO(tarballs.make_tar(*(
        entry(name, tarfile.DIRTYPE, mode=0o750, mtime=MTIME) if content is None else
        entry(name, tarfile.SYMTYPE, linkname=content, mtime=MTIME)
        if isinstance(content, str) else entry(name, data=content, mode=0o640, mtime=MTIME)
        for name, content in entries)))


def test_helpers_as_go() -> None:
    assert go_base("/etc/") == "etc" and go_base("/etc/.") == "." and go_base("/") == "/"
    assert absolute("etc/") == "/etc/" and absolute("/etc/.") == "/etc/."
    assert absolute("//x/../y") == "/y"
    assert go_file_mode(0o040755) == (1 << 31) | 0o755
    assert go_file_mode(0o120777) == (1 << 27) | 0o777


def test_stat_of_a_symlink_names_its_target_inside_the_root(layers: tuple[Path, Path]) -> None:
    fs = fs_of(layers)
    st = fs.stat("/etc/pw")
    assert st.name == "pw" and st.link_target == "/etc/passwd"
    assert fs.stat("/tmp/up").link_target == "/etc"  # "../.." stops at the root
    assert fs.stat("/new.txt").size == 3
    with pytest.raises(FileNotFoundError):
        fs.stat("/nope")
    with pytest.raises(NotADirectoryError):
        fs.stat("/new.txt/")


def test_tar_of_a_directory_and_of_its_contents(layers: tuple[Path, Path]) -> None:
    fs = fs_of(layers)
    assert set(tar_of(fs, "/etc")) == {"etc", "etc/passwd", "etc/pw"}
    assert set(tar_of(fs, "/etc/.")) == {".", "./passwd", "./pw"}
    one = tar_of(fs, "/etc/pw")
    assert set(one) == {"pw"} and one["pw"].issym()
    # through a link to "/": the container's /etc, not the host's
    assert set(tar_of(fs, "/rootlink/etc/passwd")) == {"passwd"}


def test_extract_writes_the_upper_layer_only(layers: tuple[Path, Path]) -> None:
    upper, lower = layers
    fs = fs_of(layers)
    fs.extract("/etc", make_tar(("d", None), ("d/f", b"data"), ("passwd", b"new")),
               ExtractOptions())
    assert (upper / "etc" / "d" / "f").read_bytes() == b"data"
    assert (upper / "etc" / "passwd").read_bytes() == b"new"
    assert (lower / "etc" / "passwd").read_text().startswith("root")
    assert (upper / "etc" / "d").stat().st_mode & 0o777 == 0o750
    assert (upper / "etc" / "d" / "f").stat().st_mtime == 1_600_000_000


def test_extract_through_a_link_to_root_stays_inside(layers: tuple[Path, Path],
                                                     tmp_path: Path) -> None:
    upper, _ = layers
    fs = fs_of(layers)
    fs.extract("/rootlink", make_tar(("host-secret", b"mine")), ExtractOptions())
    assert (upper / "host-secret").read_bytes() == b"mine"
    assert (tmp_path / "host-secret").read_text() == "host"
    # a link made by the archive itself is followed inside the root too
    fs.extract("/tmp", make_tar(("l", "/"), ("l/bin/x", b"x")), ExtractOptions())
    assert (upper / "bin" / "x").read_bytes() == b"x"


def test_extract_refuses_breakouts(layers: tuple[Path, Path]) -> None:
    fs = fs_of(layers)
    for entries in ([("../evil", b"x")], [("rel", "../../etc")],
                    [("h", b"")]):
        if entries[0][0] == "h":
            tar = io.BytesIO()
            with tarfile.open(fileobj=tar, mode="w") as tf:
                info = tarfile.TarInfo("h")
                info.type, info.linkname = tarfile.LNKTYPE, "../../etc/passwd"
                tf.addfile(info)
            tar.seek(0)
        else:
            tar = make_tar(*entries)
        with pytest.raises(InvalidArgument):
            fs.extract("/tmp", tar, ExtractOptions())


def test_extract_point_and_overwrite_rules(layers: tuple[Path, Path]) -> None:
    fs = fs_of(layers)
    with pytest.raises(InvalidArgument, match="extraction point is not a directory"):
        fs.extract("/new.txt", make_tar(("a", b"")), ExtractOptions())
    with pytest.raises(InvalidArgument, match="cannot overwrite directory"):
        fs.extract("/", make_tar(("etc", b"x")), ExtractOptions(no_overwrite_dir_non_dir=True))
    with pytest.raises(InvalidArgument, match="container rootfs is marked read-only"):
        fs_of(layers, readonly=True).extract("/", make_tar(("a", b"")), ExtractOptions())


def test_mounts_are_reached_by_their_host_path(layers: tuple[Path, Path],
                                               tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "in-volume").write_text("v")
    upper, _ = layers
    fs = fs_of(layers, (FsMount("/data", str(vol)),))
    assert fs.stat("/data/in-volume").size == 1
    assert "tmp/../data/in-volume" not in tar_of(fs, "/")
    assert "./data/in-volume" in tar_of(fs, "/")
    fs.extract("/data", make_tar(("put", b"p")), ExtractOptions())
    assert (vol / "put").read_bytes() == b"p" and not (upper / "data").exists()
    ro = fs_of(layers, (FsMount("/data", str(vol), read_only=True),))
    with pytest.raises(InvalidArgument, match="mounted volume is marked read-only"):
        ro.extract("/data", make_tar(("x", b"")), ExtractOptions())


def test_extract_over_deleted_and_replaced_entries(layers: tuple[Path, Path]) -> None:
    upper, lower = layers
    (lower / "gone").mkdir()
    (lower / "gone" / "old").write_text("old")
    (upper / ".wh.gone").write_text("")  # the container deleted /gone
    fs = fs_of(layers)
    fs.extract("/", make_tar(("gone", None), ("gone/new", b"n"), ("bin", b"file now")),
               ExtractOptions())
    assert fs.rootfs.listdir("gone") == ["new"]  # the old contents stay deleted
    assert fs.rootfs.open("bin").read() == b"file now"  # a dir replaced by a file
    assert (lower / "bin" / "sh").exists()


def test_extract_keeps_user_xattrs(layers: tuple[Path, Path]) -> None:
    upper, _ = layers
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("x")
        info.pax_headers = {"SCHILY.xattr.user.k": "v",
                            "SCHILY.xattr.trusted.overlay.opaque": "y"}
        tf.addfile(info)
    out.seek(0)
    fs_of(layers).extract("/tmp", out, ExtractOptions())
    try:
        assert os.getxattr(upper / "tmp" / "x", "user.k") == b"v"
    except OSError:
        pytest.skip("no user xattrs on this filesystem")
    assert "trusted.overlay.opaque" not in os.listxattr(upper / "tmp" / "x")


def chunked(data: bytes, size: int) -> TarInput:
    """``data`` handed over in ``size``-byte chunks, as a request body arrives."""
    pieces = [data[i:i + size] for i in range(0, len(data), size)]

    def take(want: int) -> list[bytes]:
        return [pieces.pop(0)] if pieces else []
    return TarInput(take)


def test_extract_from_odd_chunks_long_names_and_compression(layers: tuple[Path, Path]
                                                           ) -> None:
    upper, _ = layers
    big = os.urandom(3 * 1024 * 1024 + 77)  # several writev blocks and a ragged tail
    long_name = "d/" + "n" * 150  # a PAX header before its entry
    raw = make_tar(("d", None), ("big", big), (long_name, b"x" * 513), ("e", b""),
                   ("l", "big")).getvalue()
    for data, size in ((raw, 1), (raw, 4095), (raw, 1 << 20),
                       (gzip.compress(raw), 10_000)):
        if size == 1:  # byte by byte: only the small start, it is slow
            data = make_tar(("one", b"abc"), (long_name, b"x" * 513)).getvalue()
        fs_of(layers).extract("/tmp", chunked(data, size), ExtractOptions())
        assert (upper / "tmp" / long_name).read_bytes() == b"x" * 513
        if size > 1:
            assert (upper / "tmp" / "big").read_bytes() == big
            assert (upper / "tmp" / "e").read_bytes() == b""
            assert os.readlink(upper / "tmp" / "l") == "big"


def test_extract_of_a_truncated_file_is_refused(layers: tuple[Path, Path]) -> None:
    raw = make_tar(("f", b"y" * 100_000)).getvalue()
    with pytest.raises(InvalidArgument, match="invalid tar archive: unexpected end of data"):
        fs_of(layers).extract("/tmp", chunked(raw[:50_000], 4096), ExtractOptions())
    with pytest.raises(InvalidArgument, match="invalid tar archive"):
        fs_of(layers).extract("/tmp", chunked(b"", 1), ExtractOptions())


def test_extract_of_a_sparse_file(layers: tuple[Path, Path], tmp_path: Path) -> None:
    upper, _ = layers
    sparse = tmp_path / "sparse"
    with sparse.open("wb") as f:
        f.seek(1 << 20)
        f.write(b"end")
    tar = tmp_path / "s.tar"
    if os.system(f"tar --sparse -C {tmp_path} -cf {tar} sparse") != 0:
        pytest.skip("no GNU tar")
    with tar.open("rb") as f:
        fs_of(layers).extract("/tmp", f, ExtractOptions())
    assert (upper / "tmp" / "sparse").read_bytes() == b"\0" * (1 << 20) + b"end"


def test_body_feed_holds_a_bounded_amount_and_stops_when_closed() -> None:
    async def main() -> None:
        feed = BodyFeed(limit=100)
        assert await feed.put(b"a" * 60)
        second = asyncio.ensure_future(feed.put(b"b" * 60))  # over the limit: waits
        await asyncio.sleep(0.05)
        assert not second.done()
        got = await asyncio.to_thread(feed.take, 10)
        assert b"".join(got) == b"a" * 60 + b"b" * 60
        assert await second  # room again
        # a reader waits for what it wants, or the end
        taken: list[list[bytes]] = []
        reader = threading.Thread(target=lambda: taken.append(feed.take(50)))
        reader.start()
        assert await feed.put(b"c" * 10)
        await asyncio.sleep(0.05)
        assert not taken
        feed.end()
        await asyncio.to_thread(reader.join)
        assert taken == [[b"c" * 10]] and feed.take(1) == []
        # the reader went away: puts are refused, a waiting one released
        feed = BodyFeed(limit=10)
        waiting = asyncio.ensure_future(feed.put(b"x" * 20))
        await asyncio.sleep(0.01)
        await asyncio.to_thread(feed.close)
        assert not await waiting and not await feed.put(b"y")
    asyncio.run(main())
