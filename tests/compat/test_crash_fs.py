"""kill -9 of berthd in the middle of ``commit`` and of the prunes (issue 12): after a
restart nothing is lost or half-written. A committed image is either whole (it inspects,
runs, and has the container's files) or absent with nothing of it left in the data root
(no blob, layer snapshot or scratch snapshot); the container still exists and runs; a
volume is either gone (record and directory) or intact with its data; ``volume ls``
agrees with the directories on disk; and a second prune finishes the job.

The store's layout these tests look at (``<data-root>``)::

    content/blobs/sha256/<hex>             blobs (layers as tars, configs, manifests)
    content/ingest/                        blobs being written
    snapshots/overlay/metadata.db          snapshot rows (key, kind, parent)
    snapshots/overlay/snapshots/<id>/      one directory per row
    volumes/<name>/_data                   a local volume
    containers/<id>/                       a container's files (logs, hosts...)
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat.daemon import Daemon

pytestmark = pytest.mark.timeout(900)  # each kills and restarts berthd many times


@pytest.fixture
def fresh_daemon() -> Iterator[Daemon]:
    yield from own_daemon()


def own_daemon() -> Iterator[Daemon]:
    """A berthd of the test's own, as conftest's, on a bridge subnet of its own (the
    default pools may all be taken on a shared CI host)."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    subnet = f"10.{random.randrange(100, 250)}.{random.randrange(0, 255)}.0/24"
    d = Daemon(Path(tempfile.mkdtemp(prefix="b", dir="/tmp")),
               settings={"bridge_subnet": subnet})
    try:
        d.start()
        d.berth("image", "bootstrap", "busybox")
        yield d
    finally:
        d.cleanup()


def _blobs(d: Daemon) -> set[str]:
    return {p.name for p in (d.data_root / "content" / "blobs" / "sha256").iterdir()}


def _ingests(d: Daemon) -> list[str]:
    return sorted(p.name for p in (d.data_root / "content" / "ingest").iterdir())


def _snapshot_rows(d: Daemon) -> dict[str, tuple[int, str]]:
    """key → (id, kind), read from the snapshotter's own table."""
    db = sqlite3.connect(f"file:{d.data_root / 'snapshots/overlay/metadata.db'}?mode=ro",
                         uri=True)
    try:
        return {key: (sid, kind) for sid, key, kind in
                db.execute("SELECT id, key, kind FROM snapshots")}
    finally:
        db.close()


def _snapshot_dirs(d: Daemon) -> set[str]:
    return {p.name for p in (d.data_root / "snapshots" / "overlay" / "snapshots").iterdir()}


def _store_state(d: Daemon) -> tuple[set[str], set[str], dict[str, tuple[int, str]]]:
    return _blobs(d), _snapshot_dirs(d), _snapshot_rows(d)


def _tree_digest(root: Path) -> str:
    """Names, modes and contents of everything under ``root`` (no link followed)."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            h.update(os.path.relpath(path, root).encode() + b"\0")
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
    return h.hexdigest()


def _kill_during(d: Daemon, argv: list[str], delay: float) -> subprocess.CompletedProcess[str]:
    """Run ``docker argv`` (the real CLI), SIGKILL berthd ``delay`` seconds in, restart
    it; the client's outcome."""
    env = {**os.environ, "DOCKER_CONFIG": str(d.root / "dockercfg")}
    client = subprocess.Popen(["docker", "-H", d.host, *argv], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(delay)
    d.stop(signal.SIGKILL)
    out, err = client.communicate(timeout=60)
    d.start()
    return subprocess.CompletedProcess(argv, client.returncode, out, err)


# ── commit ─────────────────────────────────────────────────────────────────────────────

_WRITE = ("mkdir /big && i=0; while [ $i -lt 20 ]; do "
          "head -c 10485760 /dev/urandom > /big/f$i; i=$((i+1)); done; "
          "md5sum /big/* > /sums; touch /ready; exec sleep 100000")


def _wait_ready(d: Daemon, name: str) -> None:
    for _ in range(600):
        if d.berth("exec", name, "test", "-f", "/ready", check=False).returncode == 0:
            return
        time.sleep(0.1)
    raise AssertionError("the container never wrote its 200 MB")


def _check_image(d: Daemon, ref: str) -> None:
    """The committed image runs and holds the container's 200 MB unchanged."""
    out = d.berth("run", "--rm", ref, "md5sum", "-c", "/sums", timeout=120)
    assert out.stdout.count(": OK") == 20, out.stdout


def test_kill_9_during_commit_leaves_a_whole_image_or_none(fresh_daemon: Daemon) -> None:
    d = fresh_daemon
    d.berth("run", "-d", "--name", "src", "busybox", "sh", "-c", _WRITE)
    _wait_ready(d, "src")
    before = _store_state(d)

    # an undisturbed commit: how long one takes, and what it adds
    start = time.monotonic()
    d.berth("commit", "src", "whole:1", timeout=300)
    took = time.monotonic() - start
    _check_image(d, "whole:1")
    d.berth("rmi", "whole:1")
    assert _store_state(d) == before, "rmi of a committed image leaves it all behind"

    outcomes = []
    errors: set[str] = set()
    for n, fraction in enumerate((0.05, 0.2, 0.4, 0.6, 0.8, 0.9, 0.97, 1.02, 1.2, 3.0)):
        tag = f"crash:{n}"
        done = _kill_during(d, ["commit", "src", tag], took * fraction)
        present = d.berth("image", "inspect", tag, check=False).returncode == 0
        outcomes.append(present)
        if done.returncode == 0:
            assert present, f"commit answered {done.stdout!r} but {tag} is gone"
        else:
            assert done.stderr.strip(), "a failed commit says why"
            errors.add(done.stderr.strip().splitlines()[-1])
        # the container is still there, and running (not left paused)
        state = json.loads(d.berth("inspect", "src").stdout)[0]["State"]
        assert state["Status"] == "running", state
        assert d.berth("exec", "src", "md5sum", "-c", "/sums").stdout.count(": OK") == 20
        if present:
            _check_image(d, tag)
            d.berth("rmi", tag)
        assert _ingests(d) == []
        assert _store_state(d) == before, \
            f"kill at {fraction:.0%} of a commit ({'made' if present else 'none'}) left files"
    # the same container still commits after all that
    d.berth("commit", "src", "after:1", timeout=300)
    _check_image(d, "after:1")
    print(f"commit took {took:.1f}s; image present after kills at each point: {outcomes}; "
          f"the client said {errors}")


# ── prunes ─────────────────────────────────────────────────────────────────────────────

def _fill(path: Path, seed: int, files: int = 1000) -> None:
    """``files`` small files and one of 1 MiB: slow enough to delete that a kill lands
    inside a prune."""
    for i in range(files):
        (path / f"f{i}").write_bytes(f"{seed}-{i}\n".encode() * 20)
    (path / "big").write_bytes(os.urandom(1 << 20))


def _volume_names(d: Daemon) -> set[str]:
    return set(d.berth("volume", "ls", "-q").stdout.split())


def _volume_dirs(d: Daemon) -> set[str]:
    root = d.data_root / "volumes"
    return {p.name for p in root.iterdir() if p.is_dir()} if root.exists() else set()


def _check_volumes(d: Daemon, digests: dict[str, str]) -> set[str]:
    """Every volume of ``digests`` is gone (record and directory) or intact; ``volume ls``
    is what is on disk. The names left."""
    listed = _volume_names(d)
    assert listed == _volume_dirs(d), "volume ls and the directories on disk disagree"
    for name, digest in digests.items():
        if name in listed:
            assert _tree_digest(d.data_root / "volumes" / name / "_data") == digest, \
                f"volume {name} survived the kill but not whole"
    return listed & set(digests)


def test_kill_9_during_volume_prune(fresh_daemon: Daemon) -> None:
    d = fresh_daemon
    delays = (0.3, 0.5, 0.8, 1.1, 1.5)  # the middle of the prune moves with the load
    for round_no, delay in enumerate(delays):
        digests = {}
        for i in range(30):
            name = f"v{round_no}-{i}"
            d.berth("volume", "create", name)
            data = d.data_root / "volumes" / name / "_data"
            _fill(data, i)
            digests[name] = _tree_digest(data)
        done = _kill_during(d, ["volume", "prune", "-af"], delay)
        if done.returncode != 0:
            assert done.stderr.strip(), "a failed prune says why"
        left = _check_volumes(d, digests)
        print(f"volume prune killed at {delay}s: {30 - len(left)} of 30 gone")
        again = d.berth("volume", "prune", "-af", timeout=300)
        assert sorted(left) == sorted(again.stdout.splitlines()[1:1 + len(left)])
        assert _volume_names(d) == set() == _volume_dirs(d)


_CONTAINER = ("[ -f /done ] && exit 0; mkdir /d; i=0; while [ $i -lt 500 ]; do "
              "echo $i > /d/f$i; echo $i > /anon/f$i; i=$((i+1)); done; "
              "head -c 1048576 /dev/urandom > /d/big; touch /done")


def _container_state(d: Daemon, ids: list[str]) -> dict[str, str]:
    """id → digest of its writable layer (the upper dir of its snapshot)."""
    rows = _snapshot_rows(d)
    root = d.data_root / "snapshots" / "overlay" / "snapshots"
    return {cid: _tree_digest(root / str(rows[cid][0]) / "fs") for cid in ids}


def _anon_volumes(d: Daemon, ids: list[str]) -> dict[str, str]:
    out = {}
    for cid in ids:
        for m in json.loads(d.berth("inspect", cid).stdout)[0]["Mounts"]:
            out[m["Name"]] = _tree_digest(Path(m["Source"]))
    return out


def _check_containers(d: Daemon, digests: dict[str, str]) -> set[str]:
    """Every container of ``digests`` is gone (record, snapshot, files) or whole (its
    writable layer unchanged, and it starts). The ids left."""
    left = set(d.berth("ps", "-aq", "--no-trunc").stdout.split()) & set(digests)
    rows = _snapshot_rows(d)
    for cid in digests:
        if cid in left:
            assert _container_state(d, [cid])[cid] == digests[cid], \
                f"container {cid[:12]} survived the kill but not whole"
            d.berth("start", "-a", cid)
        else:
            assert cid not in rows, f"container {cid[:12]} is gone but not its snapshot"
            assert not (d.data_root / "containers" / cid).exists()
    return left


def _stopped_containers(d: Daemon, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        ids.append(d.berth("create", "-v", "/anon", "busybox", "sh", "-c",
                           _CONTAINER).stdout.strip())
        d.berth("start", "-a", ids[-1])
    return ids


def test_kill_9_during_container_and_system_prune(fresh_daemon: Daemon) -> None:
    d = fresh_daemon
    d.berth("run", "-d", "--name", "keeper", "busybox", "sleep", "100000")  # keeps busybox
    for argv, delay in ((["container", "prune", "-f"], 0.6),
                        (["system", "prune", "-af", "--volumes"], 0.6),
                        (["system", "prune", "-af", "--volumes"], 1.2)):
        ids = _stopped_containers(d, 12)
        layers = _container_state(d, ids)
        volumes = _anon_volumes(d, ids)
        done = _kill_during(d, argv, delay)
        if done.returncode != 0:
            assert done.stderr.strip(), "a failed prune says why"
        left = _check_containers(d, layers)
        kept = _check_volumes(d, volumes)
        print(f"{' '.join(argv)} killed at {delay}s: {len(ids) - len(left)} of {len(ids)} "
              f"containers and {len(volumes) - len(kept)} of {len(volumes)} volumes gone")
        d.berth("system", "prune", "-af", "--volumes", timeout=300)
        assert set(d.berth("ps", "-aq", "--no-trunc").stdout.split()) & set(ids) == set()
        assert _volume_names(d) == set() == _volume_dirs(d)
        rows = _snapshot_rows(d)
        keeper = d.berth("inspect", "-f", "{{.Id}}", "keeper").stdout.strip()
        assert {k for k, (_, kind) in rows.items() if kind == "active"} == {keeper}
        assert _snapshot_dirs(d) == {str(sid) for sid, _ in rows.values()}
        assert sorted(p.name for p in (d.data_root / "containers").iterdir()) == [keeper]
