"""The debian recipe's trimming and determinism on a hand-made tree shaped like
debootstrap's output (the real debootstrap run is tests/compat/test_debian_image.py)."""

import asyncio
import io
import os
import tarfile
from pathlib import Path

import pytest

from berth.engine.images.debian import DebianLayer, DebianRecipe, trim
from berth.engine.images.debootstrap import check_suite, mounts_under, remove_tree
from berth.errors import InvalidArgument

START = 1_700_000_000
PACKAGE_TIME = START - 86_400 * 30  # a file from a .deb: its build time


def _file(root: Path, rel: str, text: str = "", mtime: int = START + 5) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (mtime, mtime))
    return path


def _tree(root: Path) -> Path:
    _file(root, "usr/bin/bash", "ELF", PACKAGE_TIME)
    _file(root, "usr/share/doc/bash/copyright", "GPL", PACKAGE_TIME - 100)
    _file(root, "etc/shadow", "root:*:20785:0:99999:7:::\nnobody:*::0:99999:7:::\n")
    os.chmod(root / "etc/shadow", 0o640)
    _file(root, "etc/hostname", "the-build-host\n")
    _file(root, "etc/resolv.conf", "nameserver 10.0.0.1\n")
    _file(root, "var/log/dpkg.log", "install bash\n")
    _file(root, "var/log/lastlog")
    _file(root, "var/lib/dpkg/status", "Package: bash\n")
    _file(root, "var/lib/dpkg/status-old", "Package: bash\n")
    _file(root, "var/cache/apt/archives/bash_5.2_amd64.deb", "!<arch>", PACKAGE_TIME + 9)
    (root / "var/cache/apt/archives/partial").mkdir()
    _file(root, "var/lib/apt/lists/m_dists_bookworm_InRelease", "sig", START - 60)  # wget's
    (root / "var/lib/apt/lists/partial").mkdir()
    _file(root, "dev/null")
    (root / "dev/pts").mkdir()
    (root / "proc").mkdir()
    return root


def test_trim_removes_clamps_and_dates_from_the_packages(tmp_path: Path) -> None:
    root = _tree(tmp_path / "rootfs")
    epoch = trim(root, START)
    assert epoch == PACKAGE_TIME  # not the apt list's or the .deb's Last-Modified
    for gone in ("etc/hostname", "etc/resolv.conf", "var/log/dpkg.log",
                 "var/lib/dpkg/status-old", "var/cache/apt/archives/bash_5.2_amd64.deb",
                 "var/lib/apt/lists/m_dists_bookworm_InRelease", "dev/null", "dev/pts"):
        assert not os.path.lexists(root / gone), gone
    assert (root / "var/cache/apt/archives/partial").is_dir()
    assert (root / "var/lib/apt/lists/partial").is_dir()
    assert (root / "var/log/lastlog").exists() and (root / "var/lib/dpkg/status").exists()
    assert "docker-clean" in os.listdir(root / "etc/apt/apt.conf.d")
    days = PACKAGE_TIME // 86400
    assert (root / "etc/shadow").read_text() == \
        f"root:*:{days}:0:99999:7:::\nnobody:*::0:99999:7:::\n"
    assert oct((root / "etc/shadow").stat().st_mode & 0o777) == "0o640"
    for dirpath, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            assert os.lstat(os.path.join(dirpath, name)).st_mtime <= epoch, name
    assert os.stat(root / "usr/share/doc/bash/copyright").st_mtime == PACKAGE_TIME - 100


def _layer(tmp_path: Path, name: str) -> bytes:
    root = _tree(tmp_path / name)
    out = io.BytesIO()
    base = DebianLayer(root, trim(root, START), "test").write(out)
    assert base.cmd == ("bash",) and base.mtime == PACKAGE_TIME
    return out.getvalue()


def test_layer_is_deterministic_with_numeric_owners(tmp_path: Path) -> None:
    first = _layer(tmp_path, "a")
    assert _layer(tmp_path, "b") == first
    with tarfile.open(fileobj=io.BytesIO(first)) as tf:
        members = tf.getmembers()
    names = [m.name for m in members]
    assert "usr/bin/bash" in names and "dev" in names and "proc" in names
    assert not any(n.startswith(("dev/", "etc/hostname")) for n in names)
    assert all(m.uname == "" and m.gname == "" for m in members)
    assert all(m.mtime <= PACKAGE_TIME for m in members)


def test_suites() -> None:
    assert DebianRecipe.suite_of(None) == DebianRecipe.suite_of("latest") == "stable"
    assert DebianRecipe.suite_of("bookworm") == "bookworm"
    if not Path("/usr/share/debootstrap/scripts/bookworm").exists():
        pytest.skip("needs debootstrap")
    check_suite("bookworm")
    for bad in ("nosuch", "../../../bin/sh", "Bookworm"):
        with pytest.raises(InvalidArgument, match="unknown Debian suite"):
            check_suite(bad)


def test_remove_tree_without_mounts(tmp_path: Path) -> None:
    root = _tree(tmp_path / "scratch" / "rootfs")
    os.symlink("/etc", root / "etc-link")  # removed, never followed
    assert mounts_under(tmp_path) == []
    remove_tree(tmp_path / "scratch")
    assert not (tmp_path / "scratch").exists() and Path("/etc").is_dir()


def test_bad_input_raises_before_any_progress(tmp_path: Path) -> None:
    sent: list[str] = []

    async def progress(line: str) -> None:
        sent.append(line)

    async def build(recipe: DebianRecipe) -> None:
        async with recipe.build(progress):
            raise AssertionError("built")

    with pytest.raises(InvalidArgument):
        asyncio.run(build(DebianRecipe("bookworm", "ftp://nope", tmp_path)))
    assert sent == [] and not list(tmp_path.iterdir())
