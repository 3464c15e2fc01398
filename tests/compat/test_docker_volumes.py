"""The docker CLI against berthd's volumes (issue 12): data kept in a named volume across
containers, ``rm -v`` and ``--rm`` taking anonymous volumes, inspect's Mounts, docker's
refusals, a local ``-o type=tmpfs`` volume mounted only while used, a read-only root
with writable volumes, ``volume prune``."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat.daemon import Daemon


@pytest.fixture
def names(daemon: Daemon) -> Iterator[str]:
    """A prefix for this test's containers and volumes, all removed afterwards."""
    prefix = f"vt{secrets.token_hex(3)}"
    yield prefix
    ids = daemon.docker("ps", "-aq", "--filter", f"name={prefix}").stdout.split()
    if ids:
        daemon.docker("rm", "-fv", *ids, check=False)
    vols = [v for v in daemon.docker("volume", "ls", "-q").stdout.split()
            if v.startswith(prefix)]
    if vols:
        daemon.docker("volume", "rm", "-f", *vols, check=False)


def _volumes(daemon: Daemon) -> set[str]:
    return set(daemon.docker("volume", "ls", "-q").stdout.split())


def test_a_named_volume_keeps_data_and_is_in_use(daemon: Daemon, names: str) -> None:
    vol = f"{names}data"
    daemon.docker("run", "--rm", "-v", f"{vol}:/data", "busybox", "sh", "-c",
                  "echo kept > /data/f")
    assert daemon.docker("run", "--rm", "-v", f"{vol}:/data:ro", "busybox", "cat",
                         "/data/f").stdout == "kept\n"
    daemon.docker("create", "--name", f"{names}c", "-v", f"{vol}:/data", "-v", "/anon",
                  "busybox")
    mounts = json.loads(daemon.docker("inspect", "-f", "{{json .Mounts}}",
                                      f"{names}c").stdout)
    by_dest = {m["Destination"]: m for m in mounts}
    assert by_dest["/data"]["Name"] == vol and by_dest["/data"]["Mode"] == "z"
    assert by_dest["/data"]["Source"] == json.loads(daemon.docker(
        "volume", "inspect", vol).stdout)[0]["Mountpoint"]
    anon = by_dest["/anon"]["Name"]
    assert len(anon) == 64 and by_dest["/anon"]["RW"] is True
    rm = daemon.docker("volume", "rm", vol, check=False)
    assert rm.returncode == 1
    assert f"remove {vol}: volume is in use - [" in rm.stderr
    daemon.docker("rm", "-v", f"{names}c")
    assert anon not in _volumes(daemon) and vol in _volumes(daemon)
    daemon.docker("volume", "rm", vol)
    missing = daemon.docker("volume", "inspect", vol, check=False)
    assert missing.returncode == 1 and "no such volume" in missing.stderr.lower()


def test_run_rm_takes_its_anonymous_volumes(daemon: Daemon, names: str) -> None:
    before = _volumes(daemon)
    daemon.docker("run", "--rm", "--name", f"{names}r", "-v", "/scratch", "busybox",
                  "touch", "/scratch/f")
    # gone before the wait (condition "removed") answers, as docker's removeMountPoints
    assert _volumes(daemon) == before


def test_refusals_in_dockers_words(daemon: Daemon, names: str) -> None:
    bad = daemon.docker("volume", "create", "-o", "foo=bar", f"{names}bad", check=False)
    assert bad.returncode == 1
    assert f'create {names}bad: invalid option: "foo"' in bad.stderr
    run = daemon.docker("run", "--rm", "--mount",
                        "type=bind,source=/nonexistent-berth,target=/x", "busybox", "true",
                        check=False)
    assert run.returncode == 125
    assert ('invalid mount config for type "bind": bind source path does not exist: '
            "/nonexistent-berth") in run.stderr


def test_a_tmpfs_volume_is_mounted_while_used(daemon: Daemon, names: str) -> None:
    vol = f"{names}tmp"
    daemon.docker("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o",
                  "o=size=4m", vol)
    df = daemon.docker("run", "--rm", "-v", f"{vol}:/v", "busybox", "sh", "-c",
                       "echo x > /v/f; df -k /v | tail -1").stdout
    assert df.startswith("tmpfs") and " 4096 " in df
    mountpoint = Path(json.loads(daemon.docker("volume", "inspect", vol).stdout)[0][
        "Mountpoint"])
    assert str(mountpoint) not in daemon.mounts()  # the last user stopped
    assert not (mountpoint / "f").exists()


def test_read_only_root_with_writable_volume(daemon: Daemon, names: str) -> None:
    out = daemon.docker("run", "--rm", "--read-only", "-v", f"{names}w:/w", "--tmpfs",
                        "/t", "busybox", "sh", "-c",
                        "touch /w/a /t/b && echo ok; touch /nope 2>&1; true").stdout
    assert out.splitlines()[0] == "ok" and "Read-only file system" in out


def test_volume_prune_all(daemon: Daemon, names: str) -> None:
    daemon.docker("volume", "create", "--label", f"t={names}", f"{names}p")
    out = daemon.docker("volume", "prune", "-af", "--filter", f"label=t={names}").stdout
    assert f"{names}p" in out and f"{names}p" not in _volumes(daemon)


def test_volumes_and_their_mounts_survive_a_daemon_restart(fresh_daemon: Daemon) -> None:
    """A -o tmpfs volume held by a running container across a berthd restart is unmounted
    when that container stops afterwards; named data and references persist."""
    d = fresh_daemon
    d.docker("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "tv")
    d.docker("run", "--rm", "-v", "kept:/k", "busybox", "sh", "-c", "echo k > /k/f")
    d.docker("run", "-d", "--name", "holder", "-v", "tv:/v", "busybox", "sleep", "300")
    mountpoint = json.loads(d.docker("volume", "inspect", "tv").stdout)[0]["Mountpoint"]
    assert mountpoint in d.mounts()
    d.stop()
    d.start()
    assert {"tv", "kept"} <= _volumes(d)
    assert "volume is in use" in d.docker("volume", "rm", "tv", check=False).stderr
    assert d.docker("run", "--rm", "-v", "kept:/k", "busybox", "cat",
                    "/k/f").stdout == "k\n"
    d.docker("stop", "-t", "0", "holder")
    assert mountpoint not in d.mounts()
    d.docker("rm", "holder")
    d.docker("volume", "rm", "tv", "kept")
