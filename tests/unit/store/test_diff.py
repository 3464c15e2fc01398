import gzip
import hashlib
import io
import os
import shutil
import stat
import tarfile

import pytest
import zstandard
from tests.tarballs import entry, make_tar

from berth.errors import InvalidArgument
from berth.store.diff import (
    OVERLAY_OPAQUE_XATTR,
    ApplyOptions,
    WhiteoutMode,
    apply_layer,
    write_diff,
)

DELETE = ApplyOptions(whiteouts=WhiteoutMode.DELETE)
OVERLAY = ApplyOptions(whiteouts=WhiteoutMode.OVERLAY)
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mknod, trusted xattrs)")


def apply(data: bytes, target, options=DELETE):
    return apply_layer(io.BytesIO(data), target, options)


@pytest.fixture
def target(tmp_path):
    t = tmp_path / "target"
    t.mkdir()
    return t


@pytest.fixture
def outside(tmp_path):
    o = tmp_path / "outside"
    o.mkdir()
    (o / "sentinel").write_text("untouched")
    return o


def assert_untouched(tmp_path, outside):
    assert sorted(os.listdir(tmp_path)) == ["outside", "target"]
    assert os.listdir(outside) == ["sentinel"]
    assert (outside / "sentinel").read_text() == "untouched"


def test_files_dirs_links_and_metadata(target):
    layer = make_tar(
        entry("etc", tarfile.DIRTYPE, mode=0o750, mtime=111),
        entry("etc/motd", data=b"hello\n", mode=0o600, mtime=222),
        entry("bin/tool", data=b"#!", mode=0o4755),
        entry("etc/link", tarfile.SYMTYPE, linkname="motd"),
        entry("etc/hard", tarfile.LNKTYPE, linkname="etc/motd"),
        entry("fifo", tarfile.FIFOTYPE),
    )
    result = apply(layer, target)
    assert result.diff_id == "sha256:" + hashlib.sha256(layer).hexdigest()
    assert result.size == len(layer)
    assert (target / "etc/motd").read_bytes() == b"hello\n"
    assert stat.S_IMODE((target / "etc/motd").stat().st_mode) == 0o600
    assert stat.S_IMODE((target / "etc").stat().st_mode) == 0o750
    assert (target / "etc").stat().st_mtime == 111
    assert (target / "etc/motd").stat().st_mtime == 222
    assert stat.S_IMODE((target / "bin/tool").stat().st_mode) == 0o4755
    assert os.readlink(target / "etc/link") == "motd"
    assert (target / "etc/hard").stat().st_ino == (target / "etc/motd").stat().st_ino
    assert stat.S_ISFIFO((target / "fifo").lstat().st_mode)


def test_gzip_layer_diff_id_is_of_the_uncompressed_tar(target):
    layer = make_tar(entry("a", data=b"1"))
    result = apply(gzip.compress(layer), target)
    assert result.diff_id == "sha256:" + hashlib.sha256(layer).hexdigest()
    assert (target / "a").read_bytes() == b"1"


def _zstd_frames(data: bytes, parts: int) -> bytes:
    step = -(-len(data) // parts)
    c = zstandard.ZstdCompressor()
    return b"".join(c.compress(data[i:i + step]) for i in range(0, len(data), step))


SKIPPABLE = b"\x50\x2a\x4d\x18" + (4).to_bytes(4, "little") + b"meta"


@pytest.mark.parametrize(("compress", "media_type"), [
    (lambda t: t, "application/vnd.oci.image.layer.v1.tar"),
    (lambda t: t, "application/vnd.docker.image.rootfs.diff.tar"),
    (gzip.compress, "application/vnd.oci.image.layer.v1.tar+gzip"),
    (gzip.compress, "application/vnd.docker.image.rootfs.diff.tar.gzip"),
    (zstandard.ZstdCompressor().compress, "application/vnd.oci.image.layer.v1.tar+zstd"),
    (lambda t: _zstd_frames(t, 3), "application/vnd.oci.image.layer.v1.tar+zstd"),
    (lambda t: SKIPPABLE + _zstd_frames(t, 2), "application/vnd.oci.image.layer.v1.tar+zstd"),
    (gzip.compress, "application/vnd.oci.image.layer.v1.tar"),  # mislabelled: bytes win
    (lambda t: t, "application/vnd.oci.image.layer.v1.tar+gzip"),
])
def test_every_layer_type_unpacks_to_the_same_diff_id(target, compress, media_type):
    layer = make_tar(entry("a", data=b"1" * 3000), entry("b/c", data=os.urandom(5000)))
    result = apply_layer(io.BytesIO(compress(layer)), target, DELETE, media_type)
    assert result.diff_id == "sha256:" + hashlib.sha256(layer).hexdigest()
    assert (target / "a").read_bytes() == b"1" * 3000 and (target / "b/c").stat().st_size == 5000


def test_an_unknown_layer_media_type_is_refused(target):
    with pytest.raises(InvalidArgument, match="unsupported media type application/x-rar"):
        apply_layer(io.BytesIO(make_tar(entry("a"))), target, DELETE, "application/x-rar")
    assert os.listdir(target) == []


def test_bad_zstd_is_invalid(target):
    with pytest.raises(InvalidArgument, match="invalid tar layer"):
        apply(b"\x28\xb5\x2f\xfdnot zstd", target)


def test_garbage_is_invalid(target):
    with pytest.raises(InvalidArgument):
        apply(b"\x1f\x8bnot gzip at all", target)


def test_whiteouts_delete_for_real(target):
    apply(make_tar(entry("a", data=b"a"), entry("d/old", data=b"o"), entry("d/sub/x"),
                   entry("keep", data=b"k")), target)
    apply(make_tar(entry(".wh.a"), entry("d", tarfile.DIRTYPE, mode=0o755),
                   entry("d/new", data=b"n"), entry("d/.wh..wh..opq"),
                   entry(".wh.missing")), target)
    assert sorted(os.listdir(target)) == ["d", "keep"]
    assert os.listdir(target / "d") == ["new"]


@needs_root
def test_whiteouts_become_overlay_markers(target):
    apply(make_tar(entry(".wh.gone"), entry("d", tarfile.DIRTYPE, mode=0o755),
                   entry("d/.wh..wh..opq"), entry("d/f", data=b"f")), target, OVERLAY)
    st = (target / "gone").lstat()
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(target / "d", OVERLAY_OPAQUE_XATTR) == b"y"
    assert (target / "d/f").read_bytes() == b"f"


def test_dotdot_is_refused(tmp_path, target, outside):
    with pytest.raises(InvalidArgument, match="escapes"):
        apply(make_tar(entry("../outside/sentinel", data=b"pwned")), target)
    with pytest.raises(InvalidArgument):
        apply(make_tar(entry("a/../../outside/evil", data=b"pwned")), target)
    assert_untouched(tmp_path, outside)


def test_absolute_paths_land_inside(tmp_path, target, outside):
    apply(make_tar(entry(str(outside / "sentinel"), data=b"pwned")), target)
    assert (target / str(outside / "sentinel").lstrip("/")).read_bytes() == b"pwned"
    assert_untouched(tmp_path, outside)


@pytest.mark.parametrize("link", ["/", "..", "../..", "../../../../../../../.."])
def test_write_through_symlink_stays_inside(tmp_path, target, outside, link):
    rel_outside = str(outside).lstrip("/")
    apply(make_tar(entry("escape", tarfile.SYMTYPE, linkname=link),
                   entry(f"escape/{rel_outside}/sentinel", data=b"pwned"),
                   entry("escape/outside/sentinel", data=b"pwned")), target)
    assert_untouched(tmp_path, outside)
    assert os.readlink(target / "escape") == link


def test_symlink_to_outside_dir_then_file(tmp_path, target, outside):
    apply(make_tar(entry("d", tarfile.SYMTYPE, linkname=str(outside)),
                   entry("d/sentinel", data=b"pwned"), entry("d/new", data=b"pwned")), target)
    assert_untouched(tmp_path, outside)
    assert (target / str(outside).lstrip("/") / "sentinel").read_bytes() == b"pwned"


def test_existing_symlink_is_replaced_not_followed(tmp_path, target, outside):
    apply(make_tar(entry("f", tarfile.SYMTYPE, linkname=str(outside / "sentinel")),
                   entry("f", data=b"pwned")), target)
    assert_untouched(tmp_path, outside)
    assert not (target / "f").is_symlink()
    assert (target / "f").read_bytes() == b"pwned"


def test_hardlink_to_host_file_resolves_inside(tmp_path, target, outside):
    with pytest.raises(InvalidArgument, match="hardlink target"):
        apply(make_tar(entry("passwd", tarfile.LNKTYPE, linkname="/etc/passwd")), target)
    with pytest.raises(InvalidArgument, match="hardlink target"):
        apply(make_tar(entry("s", tarfile.LNKTYPE, linkname=str(outside / "sentinel"))), target)
    apply(make_tar(entry("etc/passwd", data=b"root::0:0"),
                   entry("p", tarfile.LNKTYPE, linkname="/etc/passwd"),
                   entry("up", tarfile.SYMTYPE, linkname="/"),
                   entry("q", tarfile.LNKTYPE, linkname="up/etc/passwd")), target)
    assert (target / "p").stat().st_ino == (target / "etc/passwd").stat().st_ino
    assert (target / "q").stat().st_ino == (target / "etc/passwd").stat().st_ino
    assert os.stat("/etc/passwd").st_nlink == 1 or (target / "p").stat().st_dev != \
        os.stat("/etc/passwd").st_dev
    assert_untouched(tmp_path, outside)


def test_hardlink_through_symlink_to_host_is_contained(tmp_path, target, outside):
    with pytest.raises(InvalidArgument, match="hardlink target"):
        apply(make_tar(entry("out", tarfile.SYMTYPE, linkname=str(outside)),
                       entry("h", tarfile.LNKTYPE, linkname="out/sentinel")), target)
    assert_untouched(tmp_path, outside)


def test_device_nodes_are_skipped(tmp_path, target, outside):
    apply(make_tar(entry("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0),
                   entry("dev/mem", tarfile.CHRTYPE, devmajor=1, devminor=1),
                   entry("ok", data=b"ok")), target)
    assert os.listdir(target / "dev") == []
    assert (target / "ok").read_bytes() == b"ok"
    assert_untouched(tmp_path, outside)


@needs_root
def test_device_nodes_with_flag_as_root(target):
    apply(make_tar(entry("null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666)), target,
          ApplyOptions(allow_devices=True))
    st = (target / "null").lstat()
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1


@needs_root
def test_overlay_xattrs_from_the_stream_are_dropped(target):
    info, data = entry("d", tarfile.DIRTYPE, mode=0o755)
    info.pax_headers = {"SCHILY.xattr.trusted.overlay.opaque": "y",
                        "SCHILY.xattr.user.ok": "1"}
    apply(make_tar((info, data)), target)
    assert OVERLAY_OPAQUE_XATTR not in os.listxattr(target / "d")


def _members(chunks):
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks)), mode="r") as tf:
        return {m.name: m for m in tf.getmembers()}


def test_write_diff_round_trips(tmp_path, target):
    upper = tmp_path / "outside"
    upper.mkdir()
    (upper / "dir").mkdir()
    (upper / "dir/file").write_bytes(b"data")
    os.link(upper / "dir/file", upper / "dir/hard")
    (upper / "link").symlink_to("dir/file")
    members = _members(write_diff(upper))
    assert set(members) == {"dir", "dir/file", "dir/hard", "link"}
    assert members["dir/hard"].islnk() and members["dir/hard"].linkname == "dir/file"
    assert members["link"].issym()
    assert b"".join(write_diff(upper)) == b"".join(write_diff(upper))
    apply(b"".join(write_diff(upper)), target)
    assert (target / "dir/file").read_bytes() == b"data"


def test_write_diff_streams_a_big_file_in_pieces(tmp_path, target):
    """A commit of a container that wrote a big file holds ~1 MiB of it at a time."""
    upper = tmp_path / "upper"
    upper.mkdir()
    data = os.urandom(1 << 20) * 24 + b"tail"  # 24 MiB and a bit: padding after it
    (upper / "big").write_bytes(data)
    (upper / "small").write_bytes(b"after")
    chunks = list(write_diff(upper))
    assert max(len(c) for c in chunks) <= (1 << 20) + 20 * 512  # a piece and tar's buffer
    members = _members(chunks)
    assert members["big"].size == len(data) and members["small"].size == 5
    apply(b"".join(chunks), target)
    assert (target / "big").read_bytes() == data and (target / "small").read_bytes() == b"after"


@needs_root
def test_write_diff_turns_overlay_markers_into_whiteouts(tmp_path):
    upper = tmp_path / "upper"
    (upper / "opaque").mkdir(parents=True)
    os.setxattr(upper / "opaque", OVERLAY_OPAQUE_XATTR, b"y")
    os.mknod(upper / "gone", stat.S_IFCHR | 0o600, os.makedev(0, 0))
    members = _members(write_diff(upper))
    assert set(members) == {"opaque", "opaque/.wh..wh..opq", ".wh.gone"}
    assert "SCHILY.xattr.trusted.overlay.opaque" not in members["opaque"].pax_headers


class _Trickle(io.RawIOBase):
    """A layer stream that hands out at most ``size`` bytes a read (a socket, a pipe)."""

    def __init__(self, data: bytes, size: int) -> None:
        self._data, self._size, self._at = data, size, 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self._size if n < 0 else min(n, self._size)
        out = self._data[self._at:self._at + n]
        self._at += len(out)
        return out


def test_a_layer_read_in_odd_pieces_keeps_its_files_and_diff_id(target):
    big = os.urandom(3 * 1024 * 1024 + 77)
    layer = make_tar(entry("d", tarfile.DIRTYPE, mode=0o755), entry("d/big", data=big),
                     entry("d/" + "n" * 150, data=b"x" * 513), entry("e"))
    for data in (layer, gzip.compress(layer)):
        shutil.rmtree(target)
        target.mkdir()
        got = apply_layer(_Trickle(data, 4095), target, DELETE)  # type: ignore[arg-type]
        assert got.diff_id == "sha256:" + hashlib.sha256(layer).hexdigest()
        assert (target / "d/big").read_bytes() == big
        assert (target / "d" / ("n" * 150)).read_bytes() == b"x" * 513
        assert (target / "e").read_bytes() == b""
    with pytest.raises(InvalidArgument, match="invalid tar layer"):
        apply(layer[:2 * 1024 * 1024], target)  # cut inside d/big
