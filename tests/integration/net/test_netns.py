"""berth.net.netns over the real kernel: a bound netns with lo up, entered by one thread
only, removed idempotently, nothing left behind on failure."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest
from tests.integration.conftest import mounts_under, unmount_all_under
from tests.integration.net.conftest import ROOT_ONLY

from berth.net import netns
from berth.net.netns import NetnsError

pytestmark = ROOT_ONLY


def _own_netns() -> int:
    return os.stat(f"/proc/self/task/{threading.get_native_id()}/ns/net").st_ino


def test_create_binds_a_netns_with_lo_up(nsdir: Path) -> None:
    path = nsdir / "deeper" / "a"
    netns.create(path)
    assert netns.is_netns(path)
    assert mounts_under(str(path)) == [str(path)]
    assert os.stat(path).st_ino != _own_netns()
    with netns.entered(path):
        assert [name for _, name in socket.if_nameindex()] == ["lo"]
        with socket.socket() as s:  # lo is up: a listener on 127.0.0.1 is reachable
            s.bind(("127.0.0.1", 0))
            s.listen()
            with socket.create_connection(s.getsockname(), timeout=1):
                pass


def test_prepare_dir_binds_the_directory_onto_itself_once(nsdir: Path) -> None:
    try:
        netns.prepare_dir(nsdir)
        netns.prepare_dir(nsdir)
        assert mounts_under(str(nsdir)) == [str(nsdir)]
        netns.create(nsdir / "a")  # a netns bind inside it
        assert mounts_under(str(nsdir)) == [str(nsdir), str(nsdir / "a")]
    finally:
        netns.remove(nsdir / "a")
        unmount_all_under(str(nsdir))
    assert mounts_under(str(nsdir)) == []


def test_remove_is_idempotent_and_leaves_nothing(nsdir: Path) -> None:
    path = nsdir / "a"
    netns.create(path)
    netns.remove(path)
    netns.remove(path)
    assert not path.exists()
    assert mounts_under(str(nsdir)) == []
    netns.remove(nsdir / "never-made")


def test_is_netns_refuses_other_files(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("")
    assert not netns.is_netns(plain)
    assert not netns.is_netns(tmp_path / "absent")
    assert not netns.is_netns("/proc/self/ns/mnt")
    assert netns.is_netns("/proc/self/ns/net")


def test_entered_moves_only_the_calling_thread_and_restores_on_error(nsdir: Path) -> None:
    path = nsdir / "a"
    netns.create(path)
    before = _own_netns()
    seen: list[int] = []
    look, looked = threading.Event(), threading.Event()

    def watch() -> None:
        look.wait(5)
        seen.append(_own_netns())
        looked.set()

    other = threading.Thread(target=watch)
    other.start()
    try:
        with pytest.raises(RuntimeError), netns.entered(path):
            assert _own_netns() == os.stat(path).st_ino
            look.set()
            looked.wait(5)
            raise RuntimeError("boom")
    finally:
        look.set()
        other.join()
    assert _own_netns() == before
    assert seen == [before]  # a thread already running stayed where it was


def test_create_over_an_existing_file_fails_and_keeps_it(nsdir: Path) -> None:
    nsdir.mkdir()
    existing = nsdir / "taken"
    existing.write_text("someone's")
    with pytest.raises(NetnsError, match="File exists"):
        netns.create(existing)
    assert existing.read_text() == "someone's"


def test_create_where_no_file_can_be_made_leaves_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(NetnsError):
        netns.create(blocker / "ns")
    assert mounts_under(str(tmp_path)) == []


def test_entered_a_missing_netns_raises(tmp_path: Path) -> None:
    with pytest.raises(NetnsError), netns.entered(tmp_path / "absent"):
        pass
