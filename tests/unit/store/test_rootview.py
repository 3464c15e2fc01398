"""The one view of a root filesystem over layer directories: whiteouts, opaque dirs,
symlinks resolved inside the root (never out of it), reads that follow no host link, and
writes only into the writable top layer."""

from __future__ import annotations

import errno
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest
from tests.trees import write

from berth.errors import InvalidArgument
from berth.oci.mount import Mount
from berth.store.diff import OVERLAY_OPAQUE_XATTR, open_regular
from berth.store.rootview import LayerTree, export_tar

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="whiteout devices and trusted "
                                "xattrs need root")


@pytest.fixture
def layers(tmp_path):
    bottom, middle, top = (tmp_path / n for n in ("bottom", "middle", "top"))
    for d in (bottom, middle, top):
        d.mkdir()
    write(bottom, "etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
    write(bottom, "etc/hosts", b"old")
    write(bottom, "opt/a", b"a")
    write(bottom, "opt/b", b"b")
    write(bottom, "gone/file")
    write(middle, "etc/hosts", b"new")
    write(middle, "etc/.wh.passwd", b"")
    write(top, "opt/c", b"c")
    return top, middle, bottom


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """A directory outside every root, that links in the roots point at."""
    d = tmp_path / "host"
    write(d, "passwd", b"host secret")
    return d


def read(tree: LayerTree, rel: str) -> bytes:
    with tree.open(rel) as f:
        return f.read()


# -- merging -----------------------------------------------------------------------


def test_upper_wins_and_directories_merge(layers):
    tree = LayerTree(list(layers))
    assert read(tree, "etc/hosts") == b"new"
    assert tree.listdir("opt") == ["a", "b", "c"]
    assert tree.listdir("") == ["etc", "gone", "opt"]


def test_oci_whiteout_file_hides_lower_entry(layers):
    tree = LayerTree(list(layers))
    assert not tree.exists("etc/passwd")
    assert tree.listdir("etc") == ["hosts"]
    with pytest.raises(FileNotFoundError):
        tree.open("etc/passwd")


def test_without_whiteouts_markers_are_plain_files(layers):
    tree = LayerTree([layers[1]], whiteouts=False)
    assert tree.listdir("etc") == [".wh.passwd", "hosts"]


def test_oci_opaque_marker_hides_lower_contents(layers):
    top, _middle, _bottom = layers
    write(top, "opt/.wh..wh..opq", b"")
    tree = LayerTree(list(layers))
    assert tree.listdir("opt") == ["c"]
    assert not tree.exists("opt/a")


@needs_root
def test_overlay_char_device_whiteout(layers):
    top, _middle, _bottom = layers
    os.mknod(top / "gone", stat.S_IFCHR | 0o600, os.makedev(0, 0))
    tree = LayerTree(list(layers))
    assert not tree.exists("gone") and not tree.exists("gone/file")
    assert "gone" not in tree.listdir("")


@needs_root
def test_overlay_opaque_xattr(layers):
    top, _middle, _bottom = layers
    os.setxattr(top / "opt", OVERLAY_OPAQUE_XATTR, b"y")
    tree = LayerTree(list(layers))
    assert tree.listdir("opt") == ["c"]


def test_file_in_upper_hides_lower_directory(layers):
    top, _middle, _bottom = layers
    write(top, "gone", b"now a file")
    tree = LayerTree(list(layers))
    assert stat.S_ISREG(tree.lstat("gone").st_mode)
    assert not tree.exists("gone/file")
    assert "file" not in tree.walk("")


def test_empty_stack_is_an_empty_root():
    tree = LayerTree([])
    assert stat.S_ISDIR(tree.lstat("").st_mode)
    assert tree.listdir("") == []
    assert not tree.exists("etc/passwd")


def test_walk_lists_parents_first(layers):
    tree = LayerTree(list(layers))
    assert tree.walk("opt") == ["a", "b", "c"]
    assert tree.walk("") == ["etc", "etc/hosts", "gone", "gone/file", "opt", "opt/a",
                             "opt/b", "opt/c"]


def test_walk_does_not_descend_into_links(tmp_path, host):
    layer = tmp_path / "l"
    write(layer, "real/x")
    os.symlink(str(host), layer / "out")
    assert LayerTree([layer]).walk("") == ["out", "real", "real/x"]


# -- symlinks ----------------------------------------------------------------------


def test_symlinks_resolve_inside_the_root(tmp_path):
    layer = tmp_path / "l"
    write(layer, "usr/bin/sh", b"shell")
    os.symlink("usr/bin", layer / "bin")
    os.symlink("/../../../../usr/bin/sh", layer / "escape")
    tree = LayerTree([layer])
    assert tree.resolve("bin/sh") == "usr/bin/sh"
    assert tree.resolve("bin", follow_final=False) == "bin"
    assert tree.resolve("escape") == "usr/bin/sh"
    assert read(tree, "bin/sh") == b"shell"
    assert tree.readlink("bin") == "usr/bin"


@pytest.mark.parametrize("target", ["{host}/passwd", "../../../../../../../{host}/passwd",
                                    "/../{host}/passwd"])
def test_a_linked_file_is_read_from_the_root_never_the_host(tmp_path, host, target):
    layer = tmp_path / "l"
    write(layer, f"{str(host).lstrip('/')}/passwd", b"inside")
    write(layer, "etc/group")
    os.symlink(target.format(host=host), layer / "etc/passwd")
    assert read(LayerTree([layer]), "etc/passwd") == b"inside"
    os.unlink(layer / str(host).lstrip("/") / "passwd")
    with pytest.raises(FileNotFoundError):
        LayerTree([layer]).open("etc/passwd")


def test_a_linked_directory_is_read_from_the_root_never_the_host(tmp_path, host):
    """``/etc -> /host``: the layer's path ``etc/passwd`` is a host path through a host
    symlink; the view goes to the root's ``/host/passwd`` instead."""
    upper, lower = tmp_path / "upper", tmp_path / "lower"
    write(lower, "etc/passwd", b"lower")
    upper.mkdir()
    os.symlink(str(host), upper / "etc")
    tree = LayerTree([upper, lower])
    with pytest.raises(FileNotFoundError):
        tree.open("etc/passwd")
    write(lower, f"{str(host).lstrip('/')}/passwd", b"inside")
    assert read(tree, "etc/passwd") == b"inside"


def test_symlink_in_an_upper_layer_over_a_lower_directory(tmp_path):
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    write(lower, "data/x", b"lower")
    write(lower, "real/x", b"real")
    upper.mkdir()
    os.symlink("/real", upper / "data")
    tree = LayerTree([upper, lower])
    assert read(tree, "data/x") == b"real"
    assert tree.walk("") == ["data", "real", "real/x"]


def test_link_loops_fail_with_eloop(tmp_path):
    layer = tmp_path / "l"
    layer.mkdir()
    os.symlink("loop2", layer / "loop1")
    os.symlink("/loop1", layer / "loop2")
    os.symlink("self/x", layer / "self")
    tree = LayerTree([layer], writable=True)
    for rel in ("loop1", "self", "loop2/a"):
        with pytest.raises(OSError) as err:
            tree.open(rel)
        assert err.value.errno == errno.ELOOP
    with pytest.raises(OSError) as err:
        tree.make_dirs("/self/y")
    assert err.value.errno == errno.ELOOP


def test_a_directory_swapped_for_a_link_after_the_lookup_is_not_followed(tmp_path, host):
    """A running container can change its upper dir between berthd's lookup and its
    open: the open follows no host link, so it fails instead of reading the host."""
    layer = tmp_path / "l"
    write(layer, "etc/passwd", b"inside")
    tree = LayerTree([layer])
    lookup = tree._layers
    calls: list[list[str]] = []

    def then_swap(parts: list[str]):
        found = lookup(parts)
        calls.append(parts)
        if calls.count(["etc", "passwd"]) == 2:  # resolve's, then open's own lookup
            os.rename(layer / "etc", layer / "etc.old")
            os.symlink(str(host), layer / "etc")
        return found

    tree._layers = then_swap  # type: ignore[method-assign]
    with pytest.raises(OSError) as err:
        tree.open("etc/passwd")
    assert err.value.errno in (errno.ELOOP, errno.ENOTDIR)


def test_only_regular_files_are_opened(tmp_path, host):
    layer = tmp_path / "l"
    write(layer, "etc/file")
    os.mkfifo(layer / "etc/fifo")
    os.symlink(str(host / "passwd"), layer / "etc/link")
    tree = LayerTree([layer])
    with pytest.raises(OSError) as err:
        tree.open("etc/fifo")  # would block a plain open
    assert err.value.errno == errno.EINVAL
    with pytest.raises(IsADirectoryError):
        tree.open("etc")
    with pytest.raises(OSError) as err:
        open_regular(str(layer / "etc/link"))  # the final link itself, never its target
    assert err.value.errno == errno.EINVAL


# -- writes ------------------------------------------------------------------------


def test_make_dirs_creates_in_the_upper_layer_and_copies_up_parents(tmp_path):
    upper, lower = tmp_path / "upper", tmp_path / "lower"
    upper.mkdir()
    (lower / "srv").mkdir(parents=True, mode=0o750)
    os.chmod(lower / "srv", 0o750)
    tree = LayerTree([upper, lower], writable=True)
    assert tree.make_dirs("/srv/app/../app/data") == "srv/app/data"
    assert stat.S_IMODE((upper / "srv").stat().st_mode) == 0o750
    assert stat.S_IMODE((upper / "srv/app").stat().st_mode) == 0o755
    assert (upper / "srv/app/data").is_dir() and not (lower / "srv/app").exists()
    assert tree.make_dirs("srv/app/data") == "srv/app/data"  # already there: no change


def test_make_dirs_writes_nothing_for_a_directory_a_lower_layer_has(tmp_path):
    """A container whose image has its WORKDIR gets no copies of it in its own layer
    (they would show in ``docker diff`` and in a commit)."""
    upper, lower = tmp_path / "upper", tmp_path / "lower"
    upper.mkdir()
    (lower / "usr/src/app").mkdir(parents=True)
    tree = LayerTree([upper, lower], writable=True)
    assert tree.make_dirs("/usr/src/app") == "usr/src/app"
    assert list(upper.iterdir()) == []


@pytest.mark.parametrize("where", ["upper", "lower"])
@pytest.mark.parametrize("target", ["{host}", "../../../../../../{host}"])
def test_make_dirs_through_a_link_stays_in_the_root(tmp_path, host, where, target):
    upper, lower = tmp_path / "upper", tmp_path / "lower"
    upper.mkdir()
    lower.mkdir()
    os.symlink(target.format(host=host), (upper if where == "upper" else lower) / "app")
    tree = LayerTree([upper, lower], writable=True)
    inside = str(host).lstrip("/")
    assert tree.make_dirs("/app/x") == f"{inside}/x"
    assert (upper / inside / "x").is_dir()
    assert sorted(os.listdir(host)) == ["passwd"]
    assert os.readlink((upper if where == "upper" else lower) / "app") == \
        target.format(host=host)


def test_make_dirs_refuses_a_file_in_the_way(tmp_path):
    upper, lower = tmp_path / "upper", tmp_path / "lower"
    upper.mkdir()
    write(lower, "etc/passwd")
    tree = LayerTree([upper, lower], writable=True)
    with pytest.raises(NotADirectoryError):
        tree.make_dirs("/etc/passwd/x")
    assert not (upper / "etc").exists()


def test_make_dirs_follows_no_link_swapped_in_after_the_lookup(tmp_path, host):
    upper = tmp_path / "upper"
    (upper / "app").mkdir(parents=True)
    tree = LayerTree([upper], writable=True)
    resolve = tree.resolve

    def then_swap(rel: str, follow_final: bool = True) -> str:
        resolved = resolve(rel, follow_final)
        os.rename(upper / "app", upper / "app.old")
        os.symlink(str(host), upper / "app")
        return resolved

    tree.resolve = then_swap  # type: ignore[method-assign]
    with pytest.raises(OSError) as err:
        tree.make_dirs("/app/x")
    assert err.value.errno in (errno.ELOOP, errno.ENOTDIR)
    assert sorted(os.listdir(host)) == ["passwd"]


def test_make_dirs_over_an_oci_whiteout_makes_an_opaque_dir(tmp_path):
    upper, lower = tmp_path / "upper", tmp_path / "lower"
    write(lower, "data/old")
    write(upper, ".wh.data", b"")
    tree = LayerTree([upper, lower], writable=True)
    tree.make_dirs("/data/new")
    assert not (upper / ".wh.data").exists() and (upper / "data/.wh..wh..opq").exists()
    assert tree.listdir("data") == ["new"]


@needs_root
def test_make_dirs_over_an_overlay_whiteout_makes_an_opaque_dir(tmp_path):
    upper, lower = tmp_path / "upper", tmp_path / "lower"
    write(lower, "data/old")
    upper.mkdir()
    os.mknod(upper / "data", stat.S_IFCHR | 0o600, os.makedev(0, 0))
    tree = LayerTree([upper, lower], writable=True)
    tree.make_dirs("/data")
    assert os.getxattr(upper / "data", OVERLAY_OPAQUE_XATTR) == b"y"
    assert tree.listdir("data") == []


def test_a_read_only_view_refuses_writes(layers):
    with pytest.raises(InvalidArgument):
        LayerTree(list(layers)).make_dirs("/x")


# -- mounts and export -------------------------------------------------------------


def test_from_mounts() -> None:
    overlay = Mount("overlay", "overlay", ("lowerdir=/l1:/l2", "upperdir=/u", "workdir=/w"))
    tree = LayerTree.from_mounts([overlay])
    assert tree.dirs == (Path("/u"), Path("/l1"), Path("/l2"))
    assert tree.whiteouts and tree.upper == Path("/u")
    bind = LayerTree.from_mounts([Mount("bind", "/fs", ("rbind", "rw"))])
    assert bind.dirs == (Path("/fs"),) and not bind.whiteouts and bind.upper == Path("/fs")
    view = LayerTree.from_mounts([Mount("overlay", "overlay", ("lowerdir=/l1:/l2",))])
    assert not view.writable
    with pytest.raises(InvalidArgument):
        LayerTree.from_mounts([Mount("tmpfs", "tmpfs", ())])


def exported(upper: Path, lower: Path) -> dict[str, bytes | str]:
    out = io.BytesIO()
    overlay = Mount("overlay", "overlay", (f"lowerdir={lower}", f"upperdir={upper}"))
    export_tar([overlay], out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tf:
        return {m.name: (tf.extractfile(m).read() if m.isreg() else  # type: ignore[union-attr]
                         m.linkname or m.type.decode()) for m in tf}


def test_export_merges_layers(tmp_path: Path, host: Path) -> None:
    upper, lower = tmp_path / "u", tmp_path / "l"
    for path, text in [(lower / "a", "old"), (lower / "d/x", "x"), (upper / "a", "new"),
                       (upper / "d/y", "y"), (lower / "f/z", "z")]:
        write(path.parent, path.name, text.encode())
    (upper / "f").write_text("a file hides the lower directory")
    os.symlink(str(host), upper / "link")
    assert exported(upper, lower) == {"a": b"new", "d": "5", "d/x": b"x", "d/y": b"y",
                                      "f": b"a file hides the lower directory",
                                      "link": str(host)}


@needs_root
def test_export_honours_whiteouts_and_opaque_directories(tmp_path: Path) -> None:
    upper, lower = tmp_path / "u", tmp_path / "l"
    for rel in ("gone", "o/old", "keep"):
        write(lower, rel)
    write(upper, "o/new")
    os.setxattr(upper / "o", OVERLAY_OPAQUE_XATTR, b"y")
    os.mknod(upper / "gone", stat.S_IFCHR | 0o600, os.makedev(0, 0))
    assert sorted(exported(upper, lower)) == ["keep", "o", "o/new"]
