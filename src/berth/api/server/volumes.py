"""Routes of ``/volumes``: moby's volume router, calling a VolumeBackend.

    GET    /volumes           {"Volumes": [...], "Warnings": null} (filters: name, label,
                              dangling, driver)
    POST   /volumes/create    201 the volume (an existing name: that volume, as docker)
    GET    /volumes/{name}    the volume
    DELETE /volumes/{name}    204 (force: a missing volume is no error; one in use still is)
    POST   /volumes/prune     {"VolumesDeleted": [names] | null, "SpaceReclaimed"}
                              (filters: label, label!, all; anonymous volumes only unless
                              all=true, every unused volume before API 1.42 as docker)

docker-py and compose read the JSON, so its shape is docker's to the key.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from berth.api.server import params
from berth.api.server.app import Router, json_response
from berth.api.server.backend import ContainerBackend, VolumeBackend
from berth.api.types import volumes as types
from berth.engine.volumes.model import Volume, VolumeCreate, VolumeUsage
from berth.errors import InvalidArgument

_LIST_FILTERS = frozenset({"name", "label", "dangling", "driver"})
_PRUNE_FILTERS = frozenset({"label", "label!", "all"})
_TRUE, _FALSE = ("true", "1"), ("false", "0")
_VERSION_RE = re.compile(r"^/v(\d+)\.(\d+)/")


@dataclass(frozen=True)
class VolumeRoutes:
    volumes: VolumeBackend
    containers: ContainerBackend  # kept for symmetry with NetworkRoutes: who uses a volume

    def register(self, r: Router) -> None:
        r.add("GET", "/volumes", self.list)
        r.add("POST", "/volumes/create", self.create)
        r.add("POST", "/volumes/prune", self.prune)
        r.add("GET", "/volumes/{name}", self.inspect)
        r.add("DELETE", "/volumes/{name}", self.remove)

    async def list(self, request: web.Request) -> web.Response:
        filters = params.filters(request)
        unknown = set(filters) - _LIST_FILTERS
        if unknown:
            raise InvalidArgument(f"invalid filter '{sorted(unknown)[0]}'")
        dangling = _dangling(filters.get("dangling"))
        out = [volume_json(v) for v in self.volumes.list()
               if _matches(v, filters)
               and (dangling is None
                    or (self.volumes.usage(v.name).ref_count == 0) == dangling)]
        doc: types.VolumeListResponse = {"Volumes": out, "Warnings": None}
        return json_response(doc)

    async def create(self, request: web.Request) -> web.Response:
        body = await params.body(request, types.VolumeCreateRequest)
        if body.ClusterVolumeSpec is not None:
            raise InvalidArgument("berth does not support ClusterVolumeSpec (swarm cluster "
                                  "volumes)")
        v = await self.volumes.create(VolumeCreate(
            name=body.Name, driver=body.Driver or "local",
            options=tuple((body.DriverOpts or {}).items()),
            labels=tuple((body.Labels or {}).items())))
        return json_response(volume_json(v), status=201)

    async def inspect(self, request: web.Request) -> web.Response:
        return json_response(volume_json(self.volumes.get(request.match_info["name"])))

    async def remove(self, request: web.Request) -> web.Response:
        await self.volumes.remove(request.match_info["name"], params.boolean(request, "force"))
        return web.Response(status=204)

    async def prune(self, request: web.Request) -> web.Response:
        filters = params.filters(request)
        unknown = set(filters) - _PRUNE_FILTERS
        if unknown:
            raise InvalidArgument(f"invalid filter '{sorted(unknown)[0]}'")
        all_volumes = _prune_all(filters.get("all", []), _api_version(request))
        # the backend reads "k", "k=v" and negated "k!=", "k!=v" (label!), as the
        # network backend's prune does
        labels = [*filters.get("label", []),
                  *(f"{k}!={v}" for k, _, v in
                    (x.partition("=") for x in filters.get("label!", [])))]
        report = await self.volumes.prune(labels, all_volumes)
        doc: types.VolumePruneResponse = {"VolumesDeleted": list(report.deleted) or None,
                                          "SpaceReclaimed": report.space_reclaimed}
        return json_response(doc)


def volume_json(v: Volume, usage: VolumeUsage | None = None) -> types.Volume:
    doc: types.Volume = {
        "CreatedAt": v.created, "Driver": v.driver, "Labels": dict(v.labels),
        "Mountpoint": v.mountpoint, "Name": v.name, "Options": dict(v.options),
        "Scope": v.scope,
    }
    if usage is not None:
        doc["UsageData"] = {"Size": usage.size, "RefCount": usage.ref_count}
    return doc


def _matches(v: Volume, filters: dict[str, builtins.list[str]]) -> bool:
    checks: dict[str, Callable[[str], bool]] = {
        "name": lambda want: _name_match(v.name, want),
        "driver": lambda want: v.driver == want,
        "label": lambda want: _label_match(v, want),
    }
    # docker: every label must match, any one of the other values
    return all((all if key == "label" else any)(checks[key](x) for x in values)
               for key, values in filters.items() if key in checks)


def _name_match(name: str, want: str) -> bool:
    """moby's ``filters.Match``: the value is a regular expression searched in the name."""
    try:
        return re.search(want, name) is not None
    except re.error:
        return want in name


def _label_match(v: Volume, value: str) -> bool:
    key, eq, want = value.partition("=")
    labels = dict(v.labels)
    return key in labels and (not eq or labels[key] == want)


def _dangling(values: builtins.list[str] | None) -> bool | None:
    """``dangling=true``: only volumes no container references; ``false``: only used ones
    (moby's ``GetBoolOrDefault``)."""
    if not values:
        return None
    for value in values:
        if value.lower() not in (*_TRUE, *_FALSE):
            raise InvalidArgument(f"invalid filter 'dangling={value}'")
    return values[0].lower() in _TRUE


def _prune_all(values: builtins.list[str], version: tuple[int, int] | None) -> bool:
    if len(values) > 1:
        raise InvalidArgument(f"invalid filter 'all=[{' '.join(values)}]': only one value "
                              "is expected")
    if values:
        value = values[0].strip().lower()
        if value in ("1", "t", "true"):
            return True
        if value in ("0", "f", "false"):
            return False
        raise InvalidArgument(f"invalid filter 'all': strconv.ParseBool: parsing "
                              f"\"{values[0]}\": invalid syntax")
    return version is not None and version < (1, 42)  # docker < 23 pruned every volume


def _api_version(request: web.Request) -> tuple[int, int] | None:
    match = _VERSION_RE.match(request.path)
    return (int(match[1]), int(match[2])) if match else None
