"""The issue 12 endpoints of the client over each transport: /volumes, the archive's
HEAD/GET/PUT with the stat header, /changes, /commit and /system/df."""

from __future__ import annotations

import base64
import io
import json

import pytest
from fake_daemon import CID, IMAGE_ID

from berth import errors
from berth.client.archive import PathStat
from berth.client.volumes import VolumeCreate, VolumeSummary

VOL = {"Name": "data", "Driver": "local", "Scope": "local", "Mountpoint": "/m",
       "Labels": {"a": "b"}, "CreatedAt": "2026-12-05T08:00:00Z",
       "UsageData": {"Size": 10, "RefCount": 2}}
DIR_STAT = {"name": "srv", "size": 4096, "mode": (1 << 31) | 0o755,
            "mtime": "2026-12-05T08:00:00Z", "linkTarget": ""}


def test_volume_create_list_inspect_remove_prune(client, daemon):
    daemon.state.volumes = [VOL, {"Name": "bare", "Driver": "local"}]
    doc = client.volumes.create(VolumeCreate("x", labels={"k": "v"}))
    assert doc["Name"] == "x"
    volumes, warnings = client.volumes.list({"dangling": ["true"]})
    assert volumes[0] == VolumeSummary("data", "local", "local", "/m", {"a": "b"},
                                       "2026-12-05T08:00:00Z", ref_count=2, size=10)
    assert (volumes[1].ref_count, volumes[1].size, warnings) == (-1, -1, [])
    assert client.volumes.inspect("data") == VOL
    with pytest.raises(errors.NotFound, match="no such volume"):
        client.volumes.inspect("nope")
    with pytest.raises(errors.Conflict, match="volume is in use"):
        client.volumes.remove("data")
    client.volumes.remove("bare", force=True)
    daemon.state.volumes_pruned = ["bare"]
    assert client.volumes.prune({"all": ["true"]}) == (("bare",), 2048)


def test_archive_stat_get_put(client, daemon):
    tar = bytes(range(256)) * 40  # the fake streams it in 1000-byte chunks
    daemon.state.archive = {"/srv": (DIR_STAT, tar)}
    stat = client.archive.stat(CID, "/srv")
    assert stat == PathStat("srv", 4096, (1 << 31) | 0o755, "2026-12-05T08:00:00Z")
    assert stat.is_dir and not stat.is_regular
    got, chunks = client.archive.get(CID, "/srv")
    assert got == stat and b"".join(chunks) == tar
    client.archive.put(CID, "/srv", iter([b"a" * 70000, b"b"]), copy_uid_gid=True)
    assert daemon.state.uploaded == b"a" * 70000 + b"b"
    put = daemon.state.find("PUT", "/archive")
    assert put.query == {"path": ["/srv"], "noOverwriteDirNonDir": ["1"],
                         "copyUIDGID": ["1"]}
    assert put.headers["Content-Type"] == "application/x-tar"
    client.archive.put(CID, "/srv", io.BytesIO(b"file body"))
    assert daemon.state.uploaded == b"file body"


def test_archive_missing_path(client, daemon):
    with pytest.raises(errors.NotFound):
        client.archive.stat(CID, "/nope")
    with pytest.raises(errors.NotFound, match="Could not find the file /nope"):
        client.archive.get(CID, "/nope")
    with pytest.raises(errors.NotFound):
        client.archive.put(CID, "/nope", b"")


def test_stat_header_that_is_not_base64_json():
    with pytest.raises(errors.BerthError, match="unable to decode container path stat"):
        PathStat.from_header(base64.b64encode(b"not json").decode())
    link = {"name": "l", "mode": (1 << 27) | 0o777, "linkTarget": "/x"}
    parsed = PathStat.from_header(base64.b64encode(json.dumps(link).encode()).decode())
    assert parsed.is_symlink and parsed.link_target == "/x"


def test_changes_commit_and_disk_usage(client, daemon):
    daemon.state.changes = [{"Kind": 1, "Path": "/a"}, {"Kind": 2, "Path": "/b"}]
    assert client.containers.changes("web") == [(1, "/a"), (2, "/b")]
    daemon.state.changes = []
    assert client.containers.changes("web") == []
    assert client.containers.commit("web", "repo", "t", changes=("ENV A=1", "ENV B=2"),
                                    pause=False) == IMAGE_ID
    req = daemon.state.find("POST", "/commit")
    assert req.query["changes"] == ["ENV A=1", "ENV B=2"] and req.query["pause"] == ["0"]
    assert req.body == b""
    daemon.state.disk_usage = {"LayersSize": 5, "Volumes": []}
    assert client.system.disk_usage() == {"LayersSize": 5, "Volumes": []}
