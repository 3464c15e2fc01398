"""The ``StorageDriver`` contract, run against every driver (``conftest.DRIVERS``)."""

from __future__ import annotations

import pytest

from berth.errors import InvalidArgument
from berth.registry.server.storage import PathNotFound


def test_put_and_get_content(driver):
    driver.put_content("/a/b/file", b"one")
    driver.put_content("/a/b/file", b"two")
    assert driver.get_content("/a/b/file") == b"two"
    info = driver.stat("/a/b/file")
    assert (info.size, info.is_dir) == (3, False)
    assert driver.stat("/a/b").is_dir


def test_missing_paths_raise_path_not_found(driver):
    for op in (driver.get_content, driver.stat, driver.list, driver.delete, driver.reader):
        with pytest.raises(PathNotFound):
            op("/nothing/here")
    with pytest.raises(PathNotFound):
        driver.move("/nothing", "/else")


@pytest.mark.parametrize("path", ["relative", "/a/../b", "/a//b", "/a/./b", "/a/"])
def test_paths_must_be_absolute_and_normal(driver, path):
    with pytest.raises(InvalidArgument):
        driver.put_content(path, b"x")


def test_writer_appends_across_opens(driver):
    w = driver.writer("/up/data")
    w.write(b"abc")
    w.close()
    w = driver.writer("/up/data", append=True)
    assert w.size == 3
    w.write(b"def")
    assert w.size == 6
    w.close()
    assert driver.get_content("/up/data") == b"abcdef"
    w = driver.writer("/up/data")  # not appending: truncates
    w.close()
    assert driver.get_content("/up/data") == b""


def test_writer_cancel_discards(driver):
    w = driver.writer("/up/data")
    w.write(b"abc")
    w.cancel()
    with pytest.raises(PathNotFound):
        driver.stat("/up/data")


def test_reader_from_offset(driver):
    driver.put_content("/blob", b"0123456789")
    with driver.reader("/blob", 4) as f:
        assert f.read(3) == b"456"
        assert f.read() == b"789"


def test_list_names_direct_children_sorted(driver):
    for path in ("/d/b/x", "/d/a", "/d/c/y/z"):
        driver.put_content(path, b"")
    assert driver.list("/d") == ["a", "b", "c"]
    assert driver.list("/") == ["d"]


def test_move_replaces_and_prunes(driver):
    driver.put_content("/src/dir/f", b"new")
    driver.put_content("/dst/f", b"old")
    driver.move("/src/dir/f", "/dst/f")
    assert driver.get_content("/dst/f") == b"new"
    with pytest.raises(PathNotFound):
        driver.stat("/src")  # directories exist only while a file is below them
    driver.move("/dst/f", "/deep/new/place")
    assert driver.get_content("/deep/new/place") == b"new"


def test_delete_is_recursive_and_prunes_empty_parents(driver):
    for path in ("/r/x/1", "/r/x/sub/2", "/r/keep"):
        driver.put_content(path, b"")
    driver.delete("/r/x")
    assert driver.list("/r") == ["keep"]
    driver.delete("/r/keep")
    with pytest.raises(PathNotFound):
        driver.stat("/r")
