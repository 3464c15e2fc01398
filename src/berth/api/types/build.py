"""The query of ``POST /build`` (the classic builder's parameters, API 1.45)."""

from __future__ import annotations

import msgspec

from berth.api.types.decode import Int64


class BuildQuery(msgspec.Struct):
    dockerfile: str = ""
    t: list[str] | None = None
    extrahosts: list[str] | None = None  # repeated: extrahosts=a:1.2.3.4&extrahosts=...
    remote: str = ""
    q: bool = False
    nocache: bool = False
    cachefrom: list[str] | None = None
    pull: bool = False
    rm: bool = True
    forcerm: bool = False
    memory: Int64 = 0
    memswap: Int64 = 0
    cpushares: Int64 = 0
    cpusetcpus: str = ""
    cpusetmems: str = ""
    cpuperiod: Int64 = 0
    cpuquota: Int64 = 0
    cgroupparent: str = ""
    buildargs: dict[str, str | None] | None = None
    shmsize: Int64 = 0
    squash: bool = False
    labels: dict[str, str] | None = None
    networkmode: str = ""
    platform: str = ""
    target: str = ""
    outputs: list[dict[str, object]] | None = None
    ulimits: list[dict[str, object]] | None = None
    isolation: str = ""
    version: str = ""
    session: str = ""
    buildid: str = ""
