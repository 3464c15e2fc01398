"""Routes of the system: ``/_ping``, ``/version``, ``/info``, ``/events``."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass

from aiohttp import web

from berth import __version__
from berth.api.server import params
from berth.api.server.app import API_VERSION, MIN_API_VERSION, Router, json_response
from berth.api.server.backend import ContainerBackend, ImageBackend, SystemBackend
from berth.api.server.distribution import registry_config
from berth.engine.containers.model import Status
from berth.engine.events import EventFilter
from berth.errors import InvalidArgument

_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


@dataclass(frozen=True)
class SystemInfo:
    data_root: str
    exec_root: str
    default_runtime: str
    snapshotter: str
    cgroup_version: str
    debug: bool


@dataclass(frozen=True)
class SystemRoutes:
    info_static: SystemInfo
    containers: ContainerBackend
    images: ImageBackend
    events: SystemBackend

    def register(self, r: Router) -> None:
        r.add("GET", "/_ping", self.ping)
        r.add("HEAD", "/_ping", self.ping)
        r.add("GET", "/version", self.version)
        r.add("GET", "/info", self.info)
        r.add("GET", "/events", self.event_stream)

    async def ping(self, request: web.Request) -> web.Response:
        return web.Response(text="OK" if request.method == "GET" else None, headers={
            "Api-Version": API_VERSION, "Ostype": "linux", "Docker-Experimental": "false",
            "Builder-Version": "1", "Cache-Control": "no-cache, no-store, must-revalidate",
            "Pragma": "no-cache", "Content-Type": "text/plain; charset=utf-8"})

    async def version(self, request: web.Request) -> web.Response:
        engine = {
            "Version": __version__, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "", "GoVersion": "python" + platform.python_version(), "Os": "linux",
            "Arch": _ARCH, "KernelVersion": platform.release(), "BuildTime": "",
        }
        return json_response({
            "Platform": {"Name": "Berth Engine"},
            "Components": [{"Name": "Engine", "Version": __version__,
                            "Details": {k: v for k, v in engine.items() if k != "Version"}}],
            **engine,
        })

    async def info(self, request: web.Request) -> web.Response:
        s = self.info_static
        all_containers = self.containers.list()
        count = {st: sum(1 for c in all_containers if c.state.status == st) for st in Status}
        images = await self.images.list(all=True)
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        runtimes = {name: {"path": name} for name in ("native", "runc", "crun")}
        return json_response({
            "ID": "", "Containers": len(all_containers),
            "ContainersRunning": count[Status.RUNNING], "ContainersPaused": count[Status.PAUSED],
            "ContainersStopped": len(all_containers) - count[Status.RUNNING]
            - count[Status.PAUSED],
            "Images": len(images), "Driver": s.snapshotter,
            "DriverStatus": [["Backing Filesystem", "extfs"]], "Plugins": {
                "Volume": ["local"], "Network": ["none"], "Log": ["json-file", "local", "none"]},
            "MemoryLimit": True, "SwapLimit": True, "CpuCfsPeriod": True, "CpuCfsQuota": True,
            "CPUShares": True, "CPUSet": True, "PidsLimit": True, "OomKillDisable": True,
            "IPv4Forwarding": True, "Debug": s.debug, "NFd": len(os.listdir("/proc/self/fd")),
            "NGoroutines": 0, "SystemTime": "", "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs", "CgroupVersion": s.cgroup_version, "NEventsListener": 0,
            "KernelVersion": platform.release(), "OperatingSystem": _os_name(), "OSType": "linux",
            "OSVersion": "", "Architecture": platform.machine(), "NCPU": os.cpu_count() or 1,
            "MemTotal": mem, "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": registry_config(self.images.registries),
            "DockerRootDir": s.data_root, "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
            "Name": platform.node(), "Labels": [], "ExperimentalBuild": False,
            "ServerVersion": __version__, "Runtimes": runtimes,
            "DefaultRuntime": s.default_runtime, "Swarm": {"LocalNodeState": "inactive"},
            "LiveRestoreEnabled": True, "Isolation": "", "InitBinary": "",
            "SecurityOptions": ["name=seccomp,profile=builtin", "name=cgroupns"],
            "Warnings": [],
        })

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
            attrs = dict(ev.attributes)
            await response.write(json.dumps({
                "status": ev.action, "id": ev.actor_id, "from": attrs.get("image", ""),
                "Type": ev.type, "Action": ev.action,
                "Actor": {"ID": ev.actor_id, "Attributes": attrs},
                "scope": "local", "time": ev.time_nano // 10**9, "timeNano": ev.time_nano,
            }).encode() + b"\n")
        await response.write_eof()
        return response


def _nano(value: str | None) -> int | None:
    """docker's since/until: unix seconds, optionally with a fraction ("1700000000.5")."""
    if not value:
        return None
    try:
        seconds, _, frac = value.partition(".")
        return int(seconds) * 10**9 + int((frac + "000000000")[:9])
    except ValueError:
        raise InvalidArgument(f"invalid timestamp {value!r}") from None


def _os_name() -> str:
    try:
        for line in open("/etc/os-release").read().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return "Linux"
