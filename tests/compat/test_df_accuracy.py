"""``system df`` against the disk, and each prune's SpaceReclaimed against the bytes it
freed (issue 12).

Bytes are counted as docker counts a layer, a container's writable layer and a volume
(moby ``pkg/directory.Size``, ``du -sb --apparent-size`` without the directories' own
blocks): the apparent size of every non-directory, each inode once. The data root's
layout (see test_crash_fs.py)::

    snapshots/overlay/snapshots/<id>/fs    a layer (committed) or a container's upper dir
    content/blobs/sha256/<hex>             the blobs images keep (layer tars, configs,
                                           manifests)
    volumes/<name>/_data                   a volume
    build/                                 the builder's kept contexts and cache mounts

What is compared:

- a container's SizeRw and the size of its snapshot's upper dir: exactly;
- a volume's UsageData.Size and the size of its ``_data``: exactly;
- LayersSize and the unique layers plus the blobs the images keep (shared layers and
  blobs counted once): exactly; an image's Size, its layers and its blobs;
- container, volume and image prune: SpaceReclaimed and the drop of the directories
  they free from (snapshots; volumes; snapshots + blobs): exactly. Not counted: the
  SQLite files (a deleted row does not shrink the file) and a container's own small
  files under containers/<id> (hosts, resolv.conf, its log), which docker leaves out of
  SizeRw too;
- builder prune: its report is in disk blocks (as containerd's ``fs.DiskUsage``), so
  the drop is measured in st_blocks of build/, exactly.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.compat.daemon import Daemon
from tests.compat.test_crash_fs import own_daemon

pytestmark = pytest.mark.timeout(600)  # builds, commits and prunes on a daemon of its own


@pytest.fixture
def fresh_daemon() -> Iterator[Daemon]:
    yield from own_daemon()  # on a bridge subnet of its own


def _size(*roots: Path) -> int:
    seen: set[tuple[int, int]] = set()
    total = 0
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                st = os.lstat(os.path.join(dirpath, name))
                if stat.S_ISDIR(st.st_mode) or (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def _blocks(root: Path) -> int:
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def _snapshots(d: Daemon) -> Path:
    return d.data_root / "snapshots" / "overlay" / "snapshots"


def _blobs(d: Daemon) -> Path:
    return d.data_root / "content" / "blobs" / "sha256"


def _snapshot_dir(d: Daemon, key: str) -> Path:
    db = sqlite3.connect(f"file:{d.data_root / 'snapshots/overlay/metadata.db'}?mode=ro",
                         uri=True)
    try:
        (sid,) = db.execute("SELECT id FROM snapshots WHERE key = ?", (key,)).fetchone()
    finally:
        db.close()
    return _snapshots(d) / str(sid) / "fs"


def _committed_dirs(d: Daemon) -> list[Path]:
    db = sqlite3.connect(f"file:{d.data_root / 'snapshots/overlay/metadata.db'}?mode=ro",
                         uri=True)
    try:
        ids = [r[0] for r in db.execute("SELECT id FROM snapshots WHERE kind = 'committed'")]
    finally:
        db.close()
    return [_snapshots(d) / str(i) / "fs" for i in ids]


def _api_df(d: Daemon) -> dict[str, Any]:
    from tests.compat.daemon import raw_request

    status, _, body = raw_request(d, "GET", "/v1.45/system/df")
    assert status == 200
    doc: dict[str, Any] = json.loads(body)
    return doc


def _prune(d: Daemon, path: str) -> int:
    """POST a prune; its SpaceReclaimed."""
    from tests.compat.daemon import raw_request

    status, _, body = raw_request(d, "POST", f"/v1.45/{path}")
    assert status == 200, body
    reclaimed: int = json.loads(body)["SpaceReclaimed"]
    return reclaimed


def _setup(d: Daemon) -> dict[str, str]:
    """Two images sharing busybox and a 3 MB layer, a container on each, a named and an
    anonymous volume with data."""
    d.berth("run", "--name", "ca", "busybox", "sh", "-c",
            "head -c 3000000 /dev/urandom > /a")
    d.berth("commit", "ca", "img:a")
    d.berth("run", "--name", "cb", "img:a", "sh", "-c",
            "head -c 2000000 /dev/urandom > /b; ln /b /b2; echo x > /small")
    d.berth("commit", "cb", "img:b")
    d.berth("run", "--name", "cc", "img:b", "sh", "-c", "head -c 1000000 /dev/urandom > /c")
    d.berth("volume", "create", "named")
    d.berth("run", "--name", "cv", "-v", "named:/n", "-v", "/anon", "busybox", "sh", "-c",
            "head -c 1500000 /dev/urandom > /n/f; head -c 700000 /dev/urandom > /anon/f")
    ids = {n: d.berth("inspect", "-f", "{{.Id}}", f"c{n}").stdout.strip()
           for n in ("a", "b", "c", "v")}
    return ids


def test_df_reports_what_is_on_disk(fresh_daemon: Daemon) -> None:
    d = fresh_daemon
    ids = _setup(d)
    doc = _api_df(d)
    # containers: SizeRw is the upper dir
    for c in doc["Containers"]:
        assert c["SizeRw"] == _size(_snapshot_dir(d, c["Id"])), c["Names"]
    sizes = {c["Id"]: c["SizeRw"] for c in doc["Containers"]}
    assert sizes[ids["b"]] >= 2_000_000 and sizes[ids["b"]] < 2_100_000  # /b2: once
    # volumes: each its directory
    for v in doc["Volumes"]:
        assert v["UsageData"]["Size"] == _size(d.data_root / "volumes" / v["Name"] / "_data")
    # images: every layer and blob once
    on_disk = _size(*_committed_dirs(d), _blobs(d))
    print(f"LayersSize {doc['LayersSize']}, on disk {on_disk}")
    assert doc["LayersSize"] == on_disk
    images = {i["RepoTags"][0]: i for i in doc["Images"]}
    # img:b stands on img:a's layers (busybox + /a): shared with img:a and busybox
    assert images["img:b"]["SharedSize"] >= images["img:a"]["Size"] - 10_000
    assert sum(i["Size"] - i["SharedSize"] for i in images.values()) < doc["LayersSize"]
    # the CLI's numbers are the API's
    cli = d.docker("system", "df", "--format", "{{json .}}").stdout.splitlines()
    rows = {json.loads(r)["Type"]: json.loads(r) for r in cli}
    assert rows["Local Volumes"]["Active"] == "2"  # both used by cv


def test_each_prune_frees_what_it_reports(fresh_daemon: Daemon) -> None:
    d = fresh_daemon
    _setup(d)
    snaps, vols = _snapshots(d), d.data_root / "volumes"

    # what df calls reclaimable is what each prune then frees
    df = _api_df(d)
    idle = sum(c["SizeRw"] for c in df["Containers"] if c["State"] != "running")
    before = _size(snaps)
    reported = _prune(d, "containers/prune")
    freed = before - _size(snaps)
    print(f"container prune: reported {reported}, freed {freed}")
    assert reported == freed == idle and freed > 6_000_000
    df = _api_df(d)
    unused = sum(v["UsageData"]["Size"] for v in df["Volumes"]
                 if v["UsageData"]["RefCount"] == 0)

    before = _size(vols)
    reported = _prune(d, "volumes/prune?filters=%7B%22all%22%3A%5B%22true%22%5D%7D")
    freed = before - _size(vols)
    print(f"volume prune -a: reported {reported}, freed {freed}")
    assert reported == freed == unused == 2_200_000

    df = _api_df(d)
    before = _size(snaps, _blobs(d))
    reported = _prune(d, "images/prune?filters=%7B%22dangling%22%3A%5B%22false%22%5D%7D")
    freed = before - _size(snaps, _blobs(d))
    print(f"image prune -a: reported {reported}, freed {freed}; "
          f"df said LayersSize {df['LayersSize']}")
    assert reported == freed
    # everything went: df's whole LayersSize was reclaimable
    assert freed == df["LayersSize"]
    assert _api_df(d)["LayersSize"] == 0


def _build_cache(d: Daemon, tmp: Path) -> None:
    """A berth build that keeps its context and fills a RUN cache mount."""
    ctx = tmp / "ctx"
    (ctx / "data").mkdir(parents=True)
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nCOPY data/ /data/\n"
        "RUN --mount=type=cache,target=/c,id=dfcache head -c 400000 /dev/urandom > /c/x\n")
    (ctx / "data" / "blob.bin").write_bytes(os.urandom(300_000))
    d.berth("build", "-t", "built:1", str(ctx), timeout=300)


def test_builder_prune_frees_what_it_reports(fresh_daemon: Daemon, tmp_path: Path) -> None:
    d = fresh_daemon
    _build_cache(d, tmp_path)
    build = d.data_root / "build"
    before = _blocks(build)
    reported = _prune(d, "build/prune?all=1")
    freed = before - _blocks(build)
    print(f"builder prune: reported {reported}, freed {freed} (disk blocks)")
    # the directories' own blocks are freed too; the report counts the entries' trees
    assert reported == freed and reported >= 700_000


def test_system_prune_frees_what_it_reports(fresh_daemon: Daemon, tmp_path: Path) -> None:
    """``system prune -af --volumes`` is container, network, volume, image and builder
    prune in turn (docker's CLI); its total against everything those free."""
    from berth.cli.output import human_size

    d = fresh_daemon
    _setup(d)
    d.berth("rm", "cv")  # its anonymous volume goes with system prune --volumes
    _build_cache(d, tmp_path)
    roots = (_snapshots(d), _blobs(d), d.data_root / "volumes")
    before, blocks = _size(*roots), _blocks(d.data_root / "build")
    out = d.docker("system", "prune", "-af", "--volumes").stdout
    freed = before - _size(*roots) + blocks - _blocks(d.data_root / "build")
    total = out.strip().splitlines()[-1]
    print(f"system prune -af --volumes: {total!r}, freed {freed}")
    assert total == f"Total reclaimed space: {human_size(freed, 4)}"
    assert _api_df(d)["LayersSize"] == 0
    # what is left: the named volume (--volumes prunes anonymous ones only)
    assert d.berth("volume", "ls", "-q").stdout.split() == ["named"]
    assert _size(*roots) == 1_500_000
