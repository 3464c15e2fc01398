"""The responses berthd writes conform to the TypedDicts of ``api/types/responses.py``, the
shapes the client decodes with: every required key is there, no key is outside the shape,
and each value has the annotated type, checked recursively (nested shapes, lists, maps,
``| None``). Across the documents built here every optional key is seen at least once, so
a ``NotRequired`` key nobody writes fails too.

mypy already checks the rendering functions against these shapes; this test checks what
it cannot: the routes that build documents inline (create, wait), ``Any`` parts, and that
a key the shape names is written at all.
"""

from __future__ import annotations

import json
import types
import typing
from collections import defaultdict
from typing import Any, Union, get_args, get_origin, get_type_hints

from tests.unit.api.server.harness import DATA_ROOT, Api, with_api

from berth.api.server import container_json, image_archives, images, networks, system, volumes
from berth.api.types import responses as wire
from berth.api.types import volumes as volume_wire
from berth.engine.containers.model import Health, Healthcheck, HealthProbe
from berth.engine.events import Event
from berth.engine.images.history import HistoryItem
from berth.engine.images.image import Image
from berth.engine.images.registries import RegistryOptions
from berth.engine.system import ContainerUsage, DiskUsage, ImageUsage, Info
from berth.oci.image import ImageConfig

# Keys a shape names that berth never writes: dockerd sends them, and the client reads them.
NEVER_WRITTEN = {("SystemVersion", "Experimental"), ("ContainerWaitResponse", "Error")}
# An image config with every key of ``oci.image.ContainerConfig``: inspect passes it on.
IMAGE_CONFIG: ImageConfig = {
    "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
    "config": {"User": "1000", "ExposedPorts": {"80/tcp": {}}, "Env": ["A=1"],
               "Entrypoint": ["/init"], "Cmd": None, "Volumes": {"/data": {}},
               "WorkingDir": "/srv", "Labels": {"k": "v"}, "StopSignal": "SIGINT",
               "Healthcheck": {"Test": ["NONE"]}, "OnBuild": ["RUN true"],
               "Shell": ["/bin/sh", "-c"]},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "b" * 64]}}


class Conformance:
    def __init__(self) -> None:
        self.seen: dict[str, set[str]] = defaultdict(set)
        self.checked: dict[str, Any] = {}

    def check(self, value: object, tp: Any, path: str = "$") -> None:
        assert self.fits(value, tp, path), f"{path}: {value!r} is not a {tp}"

    def fits(self, value: object, tp: Any, path: str) -> bool:
        if tp is Any or tp is object:
            return True
        if typing.is_typeddict(tp):
            self.typed_dict(value, tp, path)
            return True
        origin = get_origin(tp)
        if origin in (Union, types.UnionType):
            return any(self._try(value, alt, path) for alt in get_args(tp))
        if origin is list:
            assert isinstance(value, list), f"{path}: {value!r} is not a list"
            for i, item in enumerate(value):
                self.check(item, get_args(tp)[0], f"{path}[{i}]")
            return True
        if origin is dict:
            assert isinstance(value, dict), f"{path}: {value!r} is not an object"
            for key, item in value.items():
                assert isinstance(key, str)
                self.check(item, get_args(tp)[1], f"{path}.{key}")
            return True
        if tp is type(None):
            return value is None
        if tp is int:
            return isinstance(value, int) and not isinstance(value, bool)
        return isinstance(value, tp)

    def _try(self, value: object, tp: Any, path: str) -> bool:
        try:
            return self.fits(value, tp, path)
        except AssertionError:
            return False

    def typed_dict(self, value: object, tp: Any, path: str) -> None:
        assert isinstance(value, dict), f"{path}: {value!r} is not an object"
        keys = set(value)
        assert tp.__required_keys__ <= keys, \
            f"{path}: {tp.__name__} misses {sorted(tp.__required_keys__ - keys)}"
        unknown = keys - tp.__required_keys__ - tp.__optional_keys__
        assert not unknown, f"{path}: {tp.__name__} has no {sorted(unknown)}"
        self.seen[tp.__name__] |= keys
        self.checked[tp.__name__] = tp
        hints = get_type_hints(tp)
        for key in keys:
            self.check(value[key], hints[key], f"{path}.{key}")

    def unseen_optional_keys(self) -> list[tuple[str, str]]:
        return sorted((name, key) for name, tp in self.checked.items()
                      for key in tp.__optional_keys__ - self.seen[name]
                      if (name, key) not in NEVER_WRITTEN)


def _wire(document: object) -> Any:
    """As the client gets it: through JSON."""
    return json.loads(json.dumps(document))


@with_api
async def test_documents_conform_to_the_shared_shapes(api: Api) -> None:
    shapes = Conformance()
    api.images.add("alpine")

    async def get(path: str) -> Any:
        resp = await api.client.get(path)
        assert resp.status == 200, await resp.text()
        return await resp.json()

    resp = await api.client.post("/containers/create", params={"name": "full"}, json={
        "Image": "busybox", "Cmd": ["sleep", "300"], "ExposedPorts": {"80/tcp": {}},
        "NetworkDisabled": True, "StopSignal": "SIGINT", "StopTimeout": 3,
        "Healthcheck": {"Test": ["CMD", "true"], "Interval": 10**9, "Retries": 2}})
    assert resp.status == 201
    shapes.check(await resp.json(), wire.ContainerCreateResponse)
    full = api.containers.get("full").id
    plain = await api.create(Cmd=["sh", "-c", "exit 3"])
    assert (await api.client.post(f"/containers/{full}/start")).status == 204
    exec_resp = await api.client.post(f"/containers/{full}/exec", json={"Cmd": ["true"]})
    exec_id = (await exec_resp.json())["Id"]

    wait = api.client.post(f"/containers/{plain}/wait")
    assert (await api.client.post(f"/containers/{plain}/start")).status == 204
    resp = await wait
    shapes.check(json.loads(await resp.read()), wire.ContainerWaitResponse)

    resp = await api.client.post("/networks/create", json={"Name": "appnet"})
    resp = await api.client.post("/networks/create", json={"Name": "ranged", "IPAM": {
        "Config": [{"Subnet": "10.99.0.0/16", "IPRange": "10.99.1.0/24"}]}})
    shapes.check(await resp.json(), wire.NetworkCreateResponse)
    web = await api.create(ExposedPorts={"81/tcp": {}}, HostConfig={
        "NetworkMode": "appnet", "PortBindings": {"80/tcp": [{"HostPort": "8080"}]}},
        NetworkingConfig={"EndpointsConfig": {"appnet": {
            "Aliases": ["w"], "Links": ["full:f"], "IPAMConfig": {"IPv4Address": ""}}}})
    assert (await api.client.post(f"/containers/{web}/start")).status == 204
    assert (await api.client.post("/networks/bridge/connect",
                                  json={"Container": web})).status == 200
    shapes.check(await get("/networks"), list[wire.NetworkInspect])
    for ref in ("bridge", "appnet", "host"):
        shapes.check(await get(f"/networks/{ref}"), wire.NetworkInspect)
    shapes.check(_wire(networks.network_json(api.networks.get("appnet"), {})),
                 wire.NetworkInspect)
    resp = await api.client.post("/networks/prune")
    shapes.check(await resp.json(), wire.NetworkPruneResponse)

    mounted = await api.create(Volumes={"/anon": {}}, HostConfig={
        "Binds": ["/srv:/srv:ro", "data:/data"], "Tmpfs": {"/run": ""},
        "Mounts": [{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1024}}]})
    resp = await api.client.post("/volumes/create", json={"Name": "other", "Labels": {"a": "b"}})
    shapes.check(await resp.json(), volume_wire.Volume)
    shapes.check(await get("/volumes"), volume_wire.VolumeListResponse)
    shapes.check(await get("/volumes/data"), volume_wire.Volume)
    resp = await api.client.post("/volumes/prune")
    shapes.check(await resp.json(), volume_wire.VolumePruneResponse)

    for cid in (full, plain, web, mounted):
        shapes.check(await get(f"/containers/{cid}/json"), wire.ContainerInspect)
        shapes.check(await get(f"/containers/{cid}/json?size=1"), wire.ContainerInspect)
    shapes.check(await get("/containers/json?all=1&size=1"), list[wire.ContainerSummary])
    shapes.check(await get(f"/exec/{exec_id}/json"), wire.ExecInspect)
    shapes.check(await get("/images/json"), list[wire.ImageSummary])
    shapes.check(await get("/images/busybox/json"), wire.ImageInspect)
    built = Image(id="sha256:" + "c" * 64, repo_tags=("app:1",), repo_digests=(),
                  created="2024-01-01T00:00:00Z", size=1, config=IMAGE_CONFIG,
                  parent="sha256:" + "d" * 64, comment="")
    shapes.check(_wire(images.inspect(built, "native")), wire.ImageInspect)

    # a container with a health record: only the engine's monitor makes one
    c = api.containers.get(full).with_state(health=Health(
        status="healthy", log=(HealthProbe("2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z",
                                           0, "ok\n"),)))
    shapes.check(_wire(container_json.inspect(c, DATA_ROOT, "native",
                                              api.networks.container_network(c), [exec_id])),
                 wire.ContainerInspect)

    shapes.check(_wire([image_archives.history_item(HistoryItem(
        "sha256:" + "a" * 64, 1700000000, "/bin/sh -c #(nop) CMD [\"sh\"]",
        ("busybox:latest",), 0, "")), image_archives.history_item(HistoryItem(
            "<missing>", 1700000000, "ADD rootfs.tar /", (), 4096, "imported"))]),
        list[wire.HistoryResponseItem])

    shapes.check(_wire(system.version()), wire.SystemVersion)
    info = Info(containers=2, running=1, paused=0, stopped=1, images=2, driver="native",
                backing_filesystem="extfs", network_drivers=("bridge", "host", "null"),
                log_drivers=("json-file", "local", "none"), runtimes=("native", "runc"),
                default_runtime="native", cgroup_version="2", data_root="/var/lib/berth",
                debug=False, kernel_version="6.1.0", operating_system="Debian",
                architecture="x86_64", ncpu=2, mem_total=1 << 31, name="host")
    shapes.check(_wire(system.info(info, RegistryOptions())), wire.SystemInfo)
    busybox = await api.images.get("busybox")
    df = DiskUsage(layers_size=4096, images=(ImageUsage(busybox, 2, 4096, 0),),
                   containers=tuple(ContainerUsage(c, 0, 4096) for c in api.containers.list()))
    shapes.check(_wire(system.disk_usage(df)), wire.SystemDataUsage)
    df_doc = system.disk_usage(df)
    df_doc["Volumes"] = [volumes.volume_json(v, api.volumes.usage(v.name))
                         for v in api.volumes.list()]
    shapes.check(_wire(df_doc), wire.SystemDataUsage)
    for ev in (Event("container", "start", full, (("image", "busybox"), ("name", "full"))),
               Event("image", "tag", busybox.id)):
        shapes.check(_wire(system.event_message(ev)), wire.EventMessage)

    assert shapes.unseen_optional_keys() == []


def test_a_missing_required_key_or_an_unknown_key_fails() -> None:
    shapes = Conformance()
    good: wire.ContainerWaitResponse = {"StatusCode": 0}
    shapes.check(good, wire.ContainerWaitResponse)
    for bad in ({}, {"StatusCode": 0, "Status": 0}, {"StatusCode": "0"},
                {"StatusCode": True}, {"StatusCode": 0, "Error": {"message": "x"}}):
        try:
            shapes.check(bad, wire.ContainerWaitResponse)
        except AssertionError:
            continue
        raise AssertionError(f"{bad} passed as a ContainerWaitResponse")


def test_optional_keys_survive_string_annotations() -> None:
    """``NotRequired`` is seen: responses.py must not use ``from __future__ import
    annotations``, under which 3.11's TypedDict counts every key as required."""
    assert wire.ContainerState.__optional_keys__ == {"Health"}
    assert "Error" in wire.ContainerWaitResponse.__optional_keys__


def test_healthcheck_renders_in_gos_field_order() -> None:
    doc = container_json._healthcheck_json(Healthcheck(
        test=("CMD", "true"), interval=1, timeout=2, start_period=3, start_interval=4,
        retries=5))
    assert list(doc) == ["Test", "Interval", "Timeout", "StartPeriod", "StartInterval",
                         "Retries"]
    assert container_json._healthcheck_json(Healthcheck(test=("NONE",))) == {"Test": ["NONE"]}

