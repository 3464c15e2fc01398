"""The volume endpoints' bodies (API 1.45, moby's ``api/types/volume``): the create
request in (decoded with Go's rules by ``decode.py``), the documents out.

    POST /volumes/create   VolumeCreateRequest → Volume (201)
    GET  /volumes          VolumeListResponse {"Volumes": [...], "Warnings": null}
    GET  /volumes/{name}   Volume
    POST /volumes/prune    VolumePruneResponse {"VolumesDeleted", "SpaceReclaimed"}
"""

from typing import Any, NotRequired, TypedDict

import msgspec


class VolumeCreateRequest(msgspec.Struct):
    Name: str = ""
    Driver: str = ""
    DriverOpts: dict[str, str] | None = None
    Labels: dict[str, str] | None = None
    ClusterVolumeSpec: dict[str, Any] | None = None  # swarm only: refused when set


class VolumeUsageData(TypedDict):
    Size: int  # bytes, -1 when not computed
    RefCount: int  # containers referencing the volume, -1 when not computed


class Volume(TypedDict):
    """moby's ``volume.Volume``: Status, ClusterVolume and UsageData are omitempty."""

    Name: str
    Driver: str
    Mountpoint: str
    CreatedAt: str
    Labels: dict[str, str]
    Scope: str
    Options: dict[str, str]
    UsageData: NotRequired[VolumeUsageData]  # /system/df only


class VolumeListResponse(TypedDict):
    Volumes: list[Volume]
    Warnings: list[str] | None


class VolumePruneResponse(TypedDict):
    VolumesDeleted: list[str] | None
    SpaceReclaimed: int
