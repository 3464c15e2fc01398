"""Routes of the system: ``/_ping``, ``/version``, ``/info``, ``/events``, ``/system/df``.
The facts come from ``engine/system.py``; this module only shapes them as docker does."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass

from aiohttp import web

from berth import __version__
from berth.api.server import params
from berth.api.server.app import API_VERSION, MIN_API_VERSION, Router, json_response
from berth.api.server.backend import SystemBackend, SystemInfoBackend, VolumeBackend
from berth.api.server.container_json import summary as container_summary
from berth.api.server.distribution import registry_config
from berth.api.server.images import summary as image_summary
from berth.api.server.volumes import volume_json
from berth.api.types import responses as wire
from berth.engine import clock
from berth.engine.events import Event, EventFilter
from berth.engine.images.registries import RegistryOptions
from berth.engine.system import DiskUsage, Info
from berth.errors import InvalidArgument

_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


@dataclass(frozen=True)
class SystemRoutes:
    system: SystemInfoBackend
    registries: RegistryOptions
    events: SystemBackend
    volumes: VolumeBackend | None = None  # system df's Volumes (None: none reported)

    def register(self, r: Router) -> None:
        r.add("GET", "/_ping", self.ping)
        r.add("HEAD", "/_ping", self.ping)
        r.add("GET", "/version", self.version)
        r.add("GET", "/info", self.info)
        r.add("GET", "/events", self.event_stream)
        r.add("GET", "/system/df", self.disk_usage)

    async def ping(self, request: web.Request) -> web.Response:
        return web.Response(text="OK" if request.method == "GET" else None, headers={
            "Api-Version": API_VERSION, "Ostype": "linux", "Docker-Experimental": "false",
            "Builder-Version": "1", "Cache-Control": "no-cache, no-store, must-revalidate",
            "Pragma": "no-cache", "Content-Type": "text/plain; charset=utf-8"})

    async def version(self, request: web.Request) -> web.Response:
        return json_response(version())

    async def info(self, request: web.Request) -> web.Response:
        return json_response(info(await self.system.info(), self.registries))

    async def disk_usage(self, request: web.Request) -> web.Response:
        doc = disk_usage(await self.system.disk_usage())
        if self.volumes is not None:
            doc["Volumes"] = [volume_json(v, self.volumes.usage(v.name))
                              for v in self.volumes.list()]
        return json_response(doc)

    async def event_stream(self, request: web.Request) -> web.StreamResponse:
        since, until = _nano(request.query.get("since")), _nano(request.query.get("until"))
        f = params.filters(request)
        unknown = set(f) - {"type", "event", "container", "image", "label"}
        if unknown:
            raise InvalidArgument(f"invalid filter '{sorted(unknown)[0]}'")
        flt = EventFilter(types=frozenset(f.get("type", [])),
                          actions=frozenset(f.get("event", [])),
                          actors=frozenset(f.get("container", [])),
                          images=frozenset(f.get("image", [])),
                          labels=frozenset(f.get("label", [])))
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        async for ev in self.events.subscribe(since, until, flt):
            await response.write(json.dumps(event_message(ev)).encode() + b"\n")
        await response.write_eof()
        return response


def version() -> wire.SystemVersion:
    details = {
        "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION, "GitCommit": "",
        "GoVersion": "python" + platform.python_version(), "Os": "linux", "Arch": _ARCH,
        "KernelVersion": platform.release(), "BuildTime": "",
    }
    return {
        "Platform": {"Name": "Berth Engine"},
        "Components": [{"Name": "Engine", "Version": __version__, "Details": details}],
        "Version": __version__, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "", "GoVersion": details["GoVersion"], "Os": "linux", "Arch": _ARCH,
        "KernelVersion": details["KernelVersion"], "BuildTime": "",
    }


def info(i: Info, registries: RegistryOptions) -> wire.SystemInfo:
    return {
        "ID": "", "Containers": i.containers, "ContainersRunning": i.running,
        "ContainersPaused": i.paused, "ContainersStopped": i.stopped, "Images": i.images,
        "Driver": i.driver, "DriverStatus": [["Backing Filesystem", i.backing_filesystem]],
        "Plugins": {"Volume": ["local"], "Network": list(i.network_drivers),
                    "Log": list(i.log_drivers)},
        "MemoryLimit": True, "SwapLimit": True, "CpuCfsPeriod": True, "CpuCfsQuota": True,
        "CPUShares": True, "CPUSet": True, "PidsLimit": True, "OomKillDisable": True,
        "IPv4Forwarding": True, "Debug": i.debug, "NFd": len(os.listdir("/proc/self/fd")),
        "NGoroutines": 0, "SystemTime": clock.rfc3339(), "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs", "CgroupVersion": i.cgroup_version,
        "NEventsListener": 0, "KernelVersion": i.kernel_version,
        "OperatingSystem": i.operating_system, "OSType": "linux", "OSVersion": "",
        "Architecture": i.architecture, "NCPU": i.ncpu, "MemTotal": i.mem_total,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": registry_config(registries),
        "DockerRootDir": i.data_root, "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
        "Name": i.name, "Labels": [], "ExperimentalBuild": False,
        "ServerVersion": __version__,
        "Runtimes": {name: {"path": name} for name in i.runtimes},
        "DefaultRuntime": i.default_runtime, "Swarm": {"LocalNodeState": "inactive"},
        "LiveRestoreEnabled": True, "Isolation": "", "InitBinary": "",
        "SecurityOptions": ["name=seccomp,profile=builtin",
                            *(["name=userns"] if i.userns_remap else []), "name=cgroupns"],
        "Warnings": [f"WARNING: containers see the host's /proc/meminfo, cpuinfo and stat: "
                     f"{i.proc_view_off}"] if i.proc_view_off else [],
    }


def disk_usage(df: DiskUsage) -> wire.SystemDataUsage:
    """``docker system df`` (moby's ``SystemDataUsageResponse``)."""
    images = [image_summary(u.image) for u in df.images]
    for doc, u in zip(images, df.images, strict=True):
        doc["SharedSize"], doc["Containers"] = u.shared_size, u.containers
        doc["Size"] = u.size  # on disk: layers and blobs (``images`` shows the layers)
    containers = [container_summary(u.container) for u in df.containers]
    for cdoc, cu in zip(containers, df.containers, strict=True):
        cdoc["SizeRw"], cdoc["SizeRootFs"] = cu.size_rw, cu.size_root_fs
    return {"LayersSize": df.layers_size, "Images": images, "Containers": containers,
            "Volumes": [], "BuildCache": []}


def event_message(ev: Event) -> wire.EventMessage:
    attrs = dict(ev.attributes)
    return {
        "status": ev.action, "id": ev.actor_id, "from": attrs.get("image", ""),
        "Type": ev.type, "Action": ev.action, "Actor": {"ID": ev.actor_id, "Attributes": attrs},
        "scope": "local", "time": ev.time_nano // 10**9, "timeNano": ev.time_nano,
    }


def _nano(value: str | None) -> int | None:
    """docker's since/until: unix seconds, optionally with a fraction ("1700000000.5")."""
    if not value:
        return None
    try:
        seconds, _, frac = value.partition(".")
        return int(seconds) * 10**9 + int((frac + "000000000")[:9])
    except ValueError:
        raise InvalidArgument(f"invalid timestamp {value!r}") from None
