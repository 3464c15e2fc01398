"""Receiving the build context: a real tar stream in chunks, unpacked safely, with
.dockerignore applied."""

from __future__ import annotations

import asyncio
import bz2
import gzip
import hashlib
import io
import lzma
import os
import tarfile

import pytest
from tests.tarballs import entry, make_tar

from berth.engine.builder.context import BuildContext, TarDigests, receive_context
from berth.errors import BerthError, InvalidArgument, NotFound


def context_tar(entries, compress=None) -> bytes:
    """entries: (name, content | None for a dir | ("sym", target) | ("lnk", target))."""
    return make_tar(*(_member(name, content) for name, content in entries),
                    compression=compress or "")


def _member(name, content):
    if content is None:
        return entry(name, tarfile.DIRTYPE, mode=0o755)
    if isinstance(content, tuple):
        kind = tarfile.SYMTYPE if content[0] == "sym" else tarfile.LNKTYPE
        return entry(name, kind, linkname=content[1])
    return entry(name, data=content)


async def chunked(data: bytes, size: int = 1000):
    for i in range(0, len(data), size):
        yield data[i:i + size]
        await asyncio.sleep(0)


def receive(data: bytes, workdir, **kw) -> BuildContext:
    return asyncio.run(receive_context(chunked(data), workdir, **kw))


def tree(root) -> set[str]:
    out = set()
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            out.add(os.path.relpath(os.path.join(dirpath, name), root))
    return out


@pytest.mark.parametrize("compress", [None, "gz", "bz2", "xz"])
def test_every_compression_unpacks(tmp_path, compress):
    data = context_tar([("Dockerfile", b"FROM scratch\n"), ("src", None),
                     ("src/a.txt", b"a" * 5000)], compress)
    ctx = receive(data, tmp_path / "ctx")
    assert ctx.root == tmp_path / "ctx"
    assert ctx.dockerfile("Dockerfile") == b"FROM scratch\n"
    assert (ctx.root / "src/a.txt").read_bytes() == b"a" * 5000
    ctx.cleanup()
    assert not ctx.root.exists()


def test_large_context_is_spooled_then_unpacked_and_the_spool_removed(tmp_path):
    big = os.urandom(3 << 20)
    ctx = receive(context_tar([("big.bin", big)]), tmp_path / "ctx")
    assert (ctx.root / "big.bin").read_bytes() == big
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ctx"]


def test_a_tar_cut_inside_a_file_is_refused_and_nothing_is_left(tmp_path):
    data = context_tar([("Dockerfile", b"FROM scratch\n"), ("big.bin", os.urandom(1 << 20))])
    with pytest.raises(InvalidArgument, match="invalid tar"):
        receive(data[: 600 << 10], tmp_path / "ctx")
    assert list(tmp_path.iterdir()) == []


def test_missing_dockerfile_is_dockers_error(tmp_path):
    ctx = receive(context_tar([("a", b"x"), ("d", None)]), tmp_path / "ctx")
    with pytest.raises(NotFound, match=r"^Cannot locate specified Dockerfile: build/Dockerfile$"):
        ctx.dockerfile("build/Dockerfile")
    with pytest.raises(NotFound, match=r"^Cannot locate specified Dockerfile: d$"):
        ctx.dockerfile("d")


def test_dockerfile_symlink_cannot_leave_the_context(tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(b"host file")
    ctx = receive(context_tar([("Dockerfile", ("sym", str(secret)))]), tmp_path / "ctx")
    with pytest.raises(NotFound):
        ctx.dockerfile("Dockerfile")


@pytest.mark.parametrize("name", ["../evil", "a/../../evil", "/../evil"])
def test_hostile_dotdot_names_are_refused(tmp_path, name):
    with pytest.raises(InvalidArgument, match="escapes"):
        receive(context_tar([(name, b"pwned")]), tmp_path / "ctx")
    assert not (tmp_path / "evil").exists()
    assert not (tmp_path / "ctx").exists()  # a failed upload leaves nothing behind


def test_hostile_symlink_parent_stays_inside(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    data = context_tar([("link", ("sym", str(outside))), ("link/pwned", b"x"),
                     ("rel", ("sym", "../../outside")), ("rel/pwned2", b"y"),
                     ("hard", ("lnk", "../../outside/f"))][:4])
    ctx = receive(data, tmp_path / "ctx")
    assert list(outside.iterdir()) == []
    # the writes landed inside the context, where the symlinks point when root is "/"
    assert (ctx.root / str(outside).lstrip("/") / "pwned").read_bytes() == b"x"
    assert (ctx.root / "outside/pwned2").read_bytes() == b"y"


def test_hardlink_to_outside_is_refused(tmp_path):
    (tmp_path / "f").write_bytes(b"host")
    with pytest.raises(InvalidArgument):
        receive(context_tar([("hard", ("lnk", "../f"))]), tmp_path / "ctx")


def test_garbage_is_a_bad_request(tmp_path):
    with pytest.raises(InvalidArgument, match="invalid tar"):
        receive(b"this is not a tar archive at all" * 40, tmp_path / "ctx")


def test_dockerignore_first_filters_while_extracting(tmp_path):
    data = context_tar([(".dockerignore", b"node_modules\n*.log\n!keep.log\nDockerfile\n"),
                     ("Dockerfile", b"FROM scratch\n"), ("node_modules", None),
                     ("node_modules/x.js", b"x"), ("a.log", b"l"), ("keep.log", b"k"),
                     ("src.py", b"s")])
    ctx = receive(data, tmp_path / "ctx")
    assert tree(ctx.root) == {".dockerignore", "Dockerfile", "keep.log", "src.py"}


def test_dockerignore_late_prunes_afterwards(tmp_path):
    data = context_tar([("build", None), ("build/out.o", b"o"), ("build/keep", None),
                     ("build/keep/me", b"m"), ("app.Dockerfile", b"FROM scratch\n"),
                     ("main.c", b"c"), (".dockerignore", b"build\n!build/keep\n*.Dockerfile\n")])
    ctx = receive(data, tmp_path / "ctx", dockerfile="app.Dockerfile")
    assert tree(ctx.root) == {".dockerignore", "app.Dockerfile", "main.c", "build",
                              "build/keep", "build/keep/me"}
    assert ctx.dockerfile("app.Dockerfile") == b"FROM scratch\n"


def test_upload_failure_stops_the_reader(tmp_path):
    data = context_tar([("a", os.urandom(200_000))])

    async def broken():
        yield data[:50_000]
        raise ConnectionResetError("client went away")

    async def main():
        await asyncio.wait_for(receive_context(broken(), tmp_path / "ctx"), 10)

    with pytest.raises((ConnectionResetError, BerthError)):
        asyncio.run(main())
    assert not (tmp_path / "ctx").exists()


def test_whiteout_names_are_ordinary_files_in_a_context(tmp_path):
    ctx = receive(context_tar([("a", b"1"), (".wh.a", b"2")]), tmp_path / "ctx")
    assert (ctx.root / "a").read_bytes() == b"1"
    assert (ctx.root / ".wh.a").read_bytes() == b"2"


def _mixed_tar(fmt: int) -> bytes:
    return make_tar(entry("a.txt", data=b"alpha"),
                    entry("d/" + "long" * 40 + ".bin", data=os.urandom(70000)),
                    entry("empty"), entry("ü/ç.txt", data=b"unicode"),
                    entry("hard", tarfile.LNKTYPE, linkname="a.txt"),
                    entry("dir", tarfile.DIRTYPE), format=fmt)


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
@pytest.mark.parametrize("piece", [1, 511, 513, 4096, 1 << 20])
def test_spool_digests_match_what_tarfile_reads_however_the_stream_is_cut(fmt, piece):
    data = _mixed_tar(fmt)
    hashes = TarDigests()
    for i in range(0, len(data), piece):
        hashes.feed(data[i:i + piece])
    assert hashes.usable
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        files = [(m, tf.extractfile(m).read()) for m in tf if m.isreg()]
    assert files
    assert {m.offset_data: (m.size, hashlib.sha256(content).hexdigest())
            for m, content in files} == hashes.digests


def test_a_pax_size_override_switches_the_digests_off():
    hashes = TarDigests()
    hashes.feed(make_tar(entry("f", data=b"data", pax_headers={"size": "4"})))
    assert not hashes.usable and hashes.digests == {}


def test_the_context_knows_each_unpacked_files_digest_by_inode(tmp_path):
    data = _mixed_tar(tarfile.PAX_FORMAT)
    ctx = receive(data, tmp_path / "ctx")
    files = [p for p in ctx.root.rglob("*") if p.is_file()]
    assert len(files) == 5  # hard shares a.txt's inode
    for path in files:
        st = path.stat()
        assert ctx.digests[(st.st_dev, st.st_ino)] == \
            hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_compressed_context_is_hashed_as_it_is_decompressed(tmp_path):
    ctx = receive(gzip.compress(_mixed_tar(tarfile.PAX_FORMAT)), tmp_path / "ctx")
    assert (ctx.root / "a.txt").read_bytes() == b"alpha"
    files = [p for p in ctx.root.rglob("*") if p.is_file()]
    assert len(ctx.digests) == 4 and len(files) == 5  # hard shares a.txt's inode
    for path in files:
        st = path.stat()
        assert ctx.digests[(st.st_dev, st.st_ino)] == \
            hashlib.sha256(path.read_bytes()).hexdigest()


def _cut_after_last_data(data: bytes) -> bytes:
    """``data`` as the docker CLI sends a context it added a Dockerfile to (its
    ``ReplaceFileTarWrapper``): no padding after the last entry's data, no end blocks."""
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        last = tf.getmembers()[-1]
    return data[:last.offset_data + last.size]


@pytest.mark.parametrize("compress", [None, "gz", "bz2", "xz"])
def test_a_tar_ending_right_after_its_last_data_is_completed(tmp_path, compress):
    data = _cut_after_last_data(context_tar([("kept", b"k"), (".dockerfile.0a1b", b"FROM x\n"),
                                             (".dockerignore", b".dockerfile.0a1b\n")]))
    assert len(data) % 512
    raw = {None: lambda d: d, "gz": gzip.compress, "bz2": bz2.compress,
           "xz": lzma.compress}[compress](data)
    ctx = receive(raw, tmp_path / "ctx", dockerfile=".dockerfile.0a1b")
    assert ctx.take_dockerfile(".dockerfile.0a1b") == b"FROM x\n"
    assert tree(ctx.root) == {".dockerignore", "kept"}
    assert (ctx.root / ".dockerignore").read_bytes() == b".dockerfile.0a1b\n"


def test_a_tar_cut_inside_its_last_data_or_header_is_still_refused(tmp_path):
    data = _cut_after_last_data(context_tar([("kept", b"k"), ("last", b"x" * 1000)]))
    for cut in (data[:-10], data[:-1000 - 100]):
        with pytest.raises(InvalidArgument, match="invalid tar"):
            receive(cut, tmp_path / "ctx")


@pytest.mark.parametrize(("ignore", "left"), [
    (b".dockerignore\nDockerfile\nsecret\n", {"kept"}),
    (b"Dockerfile\n", {".dockerignore", "kept", "secret"}),
    (b".dockerignore\n", {"Dockerfile", "kept", "secret"}),
    (b"*\n!kept\n", {"kept"}),
    (b"*\n!kept\n!Dockerfile\n", {"Dockerfile", "kept"}),
])
def test_the_dockerfile_and_dockerignore_leave_once_read_if_excluded(tmp_path, ignore, left):
    data = context_tar([(".dockerignore", ignore), ("Dockerfile", b"FROM x\n"),
                        ("secret", b"s"), ("kept", b"k")])
    ctx = receive(data, tmp_path / "ctx")
    assert {".dockerignore", "Dockerfile"} <= tree(ctx.root)  # kept for the builder
    mtime = ctx.root.stat().st_mtime_ns
    assert ctx.take_dockerfile() == b"FROM x\n"
    assert tree(ctx.root) == left
    assert ctx.root.stat().st_mtime_ns == mtime


def test_an_excluded_dockerfile_in_a_directory_leaves_the_directory(tmp_path):
    data = context_tar([(".dockerignore", b"sub\n"), ("sub/Dockerfile", b"FROM x\n"),
                        ("sub/other", b"o"), ("kept", b"k")])
    ctx = receive(data, tmp_path / "ctx", dockerfile="sub/Dockerfile")
    assert ctx.take_dockerfile("sub/Dockerfile") == b"FROM x\n"
    assert tree(ctx.root) == {".dockerignore", "kept", "sub"}  # as dockerd leaves it
