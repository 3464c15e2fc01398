"""A create body's Binds, Mounts, Tmpfs, Config.Volumes and VolumesFrom through the real
routes over the fakes: what reaches ContainerSpec.mounts, docker's refusals word for word,
and what inspect, ps and rm -v show and do."""

from __future__ import annotations

import json
import tempfile
from typing import Any

import pytest
from aiohttp import ClientResponse
from tests.unit.api.server.harness import Api, with_api

from berth.engine.containers.model import MountSpec

MOUNT_POINT_KEYS = ["Destination", "Driver", "Mode", "Name", "Propagation", "RW", "Source",
                    "Type"]
SRC = tempfile.gettempdir()  # an existing host directory


async def _error(resp: ClientResponse) -> tuple[int, str]:
    return resp.status, (await resp.json())["message"]


async def _inspect(api: Api, cid: str) -> dict[str, Any]:
    resp = await api.client.get(f"/containers/{cid}/json")
    assert resp.status == 200
    doc: dict[str, Any] = await resp.json()
    return doc


@with_api
async def test_binds_become_binds_and_volumes(api: Api) -> None:
    cid = await api.create(HostConfig={"Binds": [f"{SRC}/:/host:ro,z", "data:/data:nocopy",
                                                 "/anon", f"{SRC}:/p:rshared"],
                                       "VolumeDriver": ""})
    bind, named, anon, shared = api.containers.get(cid).spec.mounts
    assert bind == MountSpec("bind", "/host", SRC, read_only=True, create_source=True,
                             mode="ro,z")
    assert named == MountSpec("volume", "/data", "data", nocopy=True, mode="nocopy")
    assert anon.type == "volume" and api.volumes.get(anon.source).anonymous
    assert (shared.propagation, shared.read_only) == ("rshared", False)
    assert not api.volumes.get("data").anonymous


BIND_REFUSALS = [
    ("", "invalid volume specification: ''"),
    ("/foo:rw", "invalid volume specification: '/foo:rw'"),
    ("/a:/b:ro:x", "invalid volume specification: '/a:/b:ro:x'"),
    ("/a:/b:bogus", "invalid mode: bogus"),
    ("/a:/b:ro,rw", "invalid mode: ro,rw"),
    ("/a:rel", "invalid volume specification: '/a:rel': invalid mount config for type "
               "\"bind\": invalid mount path: 'rel' mount path must be absolute"),
    ("/a:/", "invalid volume specification: '/a:/': invalid mount config for type \"bind\": "
             "invalid specification: destination can't be '/'"),
    ("vol:/x:shared", "invalid volume specification: 'vol:/x:shared': invalid mount config "
                      "for type \"volume\": field BindOptions must not be specified"),
    ("/a:/x:nocopy", "invalid volume specification: '/a:/x:nocopy': invalid mount config "
                     "for type \"bind\": field VolumeOptions must not be specified"),
    ("v:/x", "create v: volume name is too short, names should be at least two "
             "alphanumeric characters"),
    ("./rel:/x", 'create ./rel: "./rel" includes invalid characters for a local volume name, '
                 'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a '
                 "host directory, use absolute path"),
]


@pytest.mark.parametrize(("bind", "message"), BIND_REFUSALS)
def test_bad_binds_are_refused_with_dockers_words(bind: str, message: str) -> None:
    @with_api
    async def case(api: Api) -> None:
        resp = await api.client.post("/containers/create", json={
            "Image": "busybox", "HostConfig": {"Binds": [bind]}})
        assert await _error(resp) == (400, message)
        assert api.containers.list() == [] and api.volumes.list() == []

    case()


@with_api
async def test_one_path_mounted_twice_is_a_duplicate_mount_point(api: Api) -> None:
    for host in ({"Binds": ["/a:/x", "vol:/x/"]},
                 {"Binds": ["/a:/x"], "Tmpfs": {"/x": ""}},
                 {"Binds": ["/a:/x"], "Mounts": [{"Type": "tmpfs", "Target": "/x"}]}):
        resp = await api.client.post("/containers/create", json={"Image": "busybox",
                                                                 "HostConfig": host})
        assert await _error(resp) == (400, "Duplicate mount point: /x")


@with_api
async def test_mounts_become_mounts(api: Api) -> None:
    cid = await api.create(HostConfig={"Mounts": [
        {"Type": "bind", "Source": SRC, "Target": "/h", "ReadOnly": True,
         "BindOptions": {"Propagation": "rslave"}},
        {"Type": "volume", "Source": "cfg", "Target": "/cfg", "VolumeOptions": {
            "NoCopy": True, "Labels": {"k": "v"},
            "DriverConfig": {"Name": "local", "Options": {"type": "tmpfs", "device": "tmpfs"}}}},
        {"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1 << 20,
                                                           "Mode": 0o700}},
        {"Type": "bind", "Source": "/no/such/dir", "Target": "/made",
         "BindOptions": {"CreateMountpoint": True}},
    ]})
    bind, vol, tmpfs, made = api.containers.get(cid).spec.mounts
    assert bind == MountSpec("bind", "/h", SRC, read_only=True, propagation="rslave")
    assert vol == MountSpec("volume", "/cfg", "cfg", nocopy=True, volume_driver="local",
                            volume_options=(("type", "tmpfs"), ("device", "tmpfs")),
                            volume_labels=(("k", "v"),))
    assert tmpfs == MountSpec("tmpfs", "/t", tmpfs_size=1 << 20, tmpfs_mode=0o700)
    assert made.create_source and made.source == "/no/such/dir"
    v = api.volumes.get("cfg")
    assert v.labels == (("k", "v"),) and v.options == (("type", "tmpfs"), ("device", "tmpfs"))


MOUNT_REFUSALS = [
    ({"Type": "bind", "Source": "/no/such/dir", "Target": "/x"},
     'invalid mount config for type "bind": bind source path does not exist: /no/such/dir'),
    ({"Type": "bind", "Target": "/x"},
     'invalid mount config for type "bind": field Source must not be empty'),
    ({"Type": "bind", "Source": SRC, "Target": "/x", "BindOptions": {"Propagation": "up"}},
     'invalid mount config for type "bind": invalid propagation mode: up'),
    ({"Type": "volume", "Target": "x"},
     "invalid mount config for type \"volume\": invalid mount path: 'x' mount path must be "
     "absolute"),
    ({"Type": "volume", "Source": "v"},
     'invalid mount config for type "volume": field Target must not be empty'),
    ({"Type": "volume", "Target": "/x", "BindOptions": {}},
     'invalid mount config for type "volume": field BindOptions must not be specified'),
    ({"Type": "tmpfs", "Source": "s", "Target": "/x"},
     'invalid mount config for type "tmpfs": field Source must not be specified'),
    ({"Type": "tmpfs", "Target": "/x", "VolumeOptions": {}},
     'invalid mount config for type "tmpfs": field VolumeOptions must not be specified'),
    ({"Type": "weird", "Target": "/x"}, 'invalid mount config for type "weird": mount type '
                                        "unknown"),
    ({"Type": "image", "Source": "busybox", "Target": "/x"},
     "berth does not support HostConfig.Mounts[0].Type 'image' yet"),
    ({"Type": "bind", "Source": SRC, "Target": "/x", "BindOptions": {"NonRecursive": True}},
     "berth does not support HostConfig.Mounts[0].BindOptions.NonRecursive yet"),
    ({"Type": "volume", "Source": "v", "Target": "/x", "VolumeOptions": {"Subpath": "a"}},
     "berth does not support HostConfig.Mounts[0].VolumeOptions.Subpath yet"),
]


@pytest.mark.parametrize(("mount", "message"), MOUNT_REFUSALS)
def test_bad_mounts_are_refused_with_dockers_words(mount: dict[str, Any],
                                                   message: str) -> None:
    @with_api
    async def case(api: Api) -> None:
        resp = await api.client.post("/containers/create", json={
            "Image": "busybox", "HostConfig": {"Mounts": [mount]}})
        assert await _error(resp) == (400, message)
        assert api.containers.list() == [] and api.volumes.list() == []

    case()


@with_api
async def test_tmpfs_config_volumes_and_volumes_from(api: Api) -> None:
    first = await api.create(HostConfig={"Tmpfs": {"/run": "size=16m,noexec", "/tmp": ""}},
                             Volumes={"/data": {}})
    run, tmp, data = api.containers.get(first).spec.mounts
    assert run == MountSpec("tmpfs", "/run", tmpfs_options=("size=16m", "noexec"))
    assert tmp == MountSpec("tmpfs", "/tmp")
    assert data.type == "volume" and data.target == "/data"
    assert api.volumes.get(data.source).anonymous
    # a Bind at a Config.Volumes path wins over the anonymous volume
    second = await api.create(HostConfig={"Binds": [f"{SRC}:/data"],
                                          "VolumesFrom": [f"{first}:ro"]},
                              Volumes={"/data": {}})
    spec = api.containers.get(second).spec
    assert spec.volumes_from == (f"{first}:ro",)
    assert [(m.type, m.target) for m in spec.mounts] == [("bind", "/data")]  # no /data twice
    for host, message in (({"VolumesFrom": [""]},
                           "volumes-from specification cannot be an empty string"),
                          ({"VolumesFrom": ["c:shared"]}, "invalid mode: shared"),
                          ({"VolumesFrom": ["c:nocopy"]}, "invalid mode: nocopy"),
                          ({"Tmpfs": {"rel": ""}},
                           "invalid mount path: 'rel' mount path must be absolute")):
        resp = await api.client.post("/containers/create", json={"Image": "busybox",
                                                                 "HostConfig": host})
        assert await _error(resp) == (400, message)


@with_api
async def test_inspect_shows_mounts_and_echoes_the_request(api: Api) -> None:
    cid = await api.create(
        HostConfig={"Binds": [f"{SRC}:/host:ro", "named:/named"],
                    "Mounts": [{"Type": "tmpfs", "Target": "/t",
                                "TmpfsOptions": {"SizeBytes": 1024}}],
                    "Tmpfs": {"/run": "size=1m"}, "ReadonlyRootfs": True},
        Volumes={"/anon": {}})
    doc = await _inspect(api, cid)
    mounts = {m["Destination"]: m for m in doc["Mounts"]}
    # Name and Driver are omitempty in docker's MountPoint: a volume's alone have them
    assert all(sorted(m) == MOUNT_POINT_KEYS for m in doc["Mounts"] if m["Type"] == "volume")
    assert all("Name" not in m and "Driver" not in m for m in doc["Mounts"]
               if m["Type"] != "volume")
    assert mounts["/host"] == {"Type": "bind", "Source": SRC,
                               "Destination": "/host", "Mode": "ro",
                               "RW": False, "Propagation": "rprivate"}
    assert mounts["/named"]["Name"] == "named" and mounts["/named"]["Driver"] == "local"
    assert mounts["/named"]["Source"] == api.volumes.get("named").mountpoint
    anon = mounts["/anon"]["Name"]
    assert api.volumes.get(anon).anonymous
    host = doc["HostConfig"]
    assert host["Binds"] == [f"{SRC}:/host:ro", "named:/named"]
    assert host["Mounts"] == [{"Target": "/t", "Type": "tmpfs",  # Go's omitempty
                               "TmpfsOptions": {"SizeBytes": 1024}}]
    assert host["Tmpfs"] == {"/run": "size=1m"} and host["VolumesFrom"] is None
    assert host["ReadonlyRootfs"] is True
    assert doc["Config"]["Volumes"] == {"/anon": {}}
    plain = await _inspect(api, await api.create())
    assert plain["Mounts"] == [] and plain["HostConfig"]["Binds"] is None
    assert plain["HostConfig"]["Mounts"] is None and plain["Config"]["Volumes"] is None


@with_api
async def test_ps_shows_mounts(api: Api) -> None:
    await api.create(HostConfig={"Binds": ["named:/named"]})
    resp = await api.client.get("/containers/json", params={"all": "1"})
    (summary,) = await resp.json()
    (mount,) = summary["Mounts"]
    assert (mount["Type"], mount["Name"], mount["Destination"], mount["RW"]) == (
        "volume", "named", "/named", True)


@with_api
async def test_ps_filters_by_volume_name_bind_source_or_destination(api: Api) -> None:
    named = await api.create(HostConfig={"Binds": ["named:/named"]})
    bound = await api.create(HostConfig={"Binds": [f"{SRC}:/b"]})
    await api.create()

    async def ids(value: str) -> list[str]:
        resp = await api.client.get("/containers/json", params={
            "all": "1", "filters": json.dumps({"volume": [value]})})
        return [c["Id"] for c in await resp.json()]

    assert await ids("named") == [named] and await ids("/named") == [named]
    assert await ids(SRC) == [bound] and await ids("/b") == [bound]
    assert await ids("nope") == []


@with_api
async def test_rm_v_removes_the_anonymous_volumes_only(api: Api) -> None:
    body = {"HostConfig": {"Binds": ["named:/named"]}, "Volumes": {"/anon": {}}}
    kept, gone = await api.create(**body), await api.create(**body)
    anon = {cid: next(m.source for m in api.containers.get(cid).spec.mounts
                      if m.target == "/anon") for cid in (kept, gone)}
    assert (await api.client.delete(f"/containers/{kept}")).status == 204
    assert (await api.client.delete(f"/containers/{gone}", params={"v": "1"})).status == 204
    assert sorted(v.name for v in api.volumes.list()) == sorted([anon[kept], "named"])
