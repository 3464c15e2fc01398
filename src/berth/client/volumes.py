"""``/volumes``: the volume endpoints the CLI uses (issue 12).

Listing decodes each volume into a ``VolumeSummary``; ``inspect`` hands on the daemon's
document as it is (``volume inspect`` prints it, as ``network inspect`` does).
"""

from __future__ import annotations

import json

from berth.client.api import quote_id
from berth.client.models import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

    from berth.client.api import EngineAPI

    # ``GET /volumes/{name}``: docker's ``volume.Volume``, printed as received.
    VolumeDocument = dict[str, Any]
    Filters = dict[str, list[str]]  # module scope: ``list`` is a method name in the class


class VolumeCreate(Value):
    """The body of ``POST /volumes/create`` (docker's ``volume.CreateOptions``)."""

    __slots__ = ("driver", "driver_opts", "labels", "name")
    name: Final[str]
    driver: Final[str]
    driver_opts: Final[dict[str, str]]
    labels: Final[dict[str, str]]

    def __init__(self, name: str = "", driver: str = "local",
                 driver_opts: dict[str, str] | None = None,
                 labels: dict[str, str] | None = None) -> None:
        self.name = name
        self.driver = driver
        self.driver_opts = {} if driver_opts is None else driver_opts
        self.labels = {} if labels is None else labels

    def __hash__(self) -> int:
        return hash((self.name, self.driver))

    def to_json(self) -> dict[str, Any]:
        return {"Name": self.name, "Driver": self.driver, "DriverOpts": self.driver_opts,
                "Labels": self.labels}


class VolumeSummary(Value):
    """One entry of ``GET /volumes``: what ``volume ls`` shows. ``ref_count`` and ``size``
    are -1 when the daemon did not compute them (``UsageData`` absent: "N/A")."""

    __slots__ = ("created", "driver", "labels", "mountpoint", "name", "ref_count", "scope",
                 "size")
    name: Final[str]
    driver: Final[str]
    scope: Final[str]
    mountpoint: Final[str]
    labels: Final[dict[str, str]]
    created: Final[str]
    ref_count: Final[int]
    size: Final[int]

    def __init__(self, name: str, driver: str = "local", scope: str = "local",
                 mountpoint: str = "", labels: dict[str, str] | None = None,
                 created: str = "", ref_count: int = -1, size: int = -1) -> None:
        self.name = name
        self.driver = driver
        self.scope = scope
        self.mountpoint = mountpoint
        self.labels = {} if labels is None else labels
        self.created = created
        self.ref_count = ref_count
        self.size = size

    def __hash__(self) -> int:
        return hash(self.name)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> VolumeSummary:
        usage = doc.get("UsageData") or {}
        return cls(name=str(doc.get("Name") or ""), driver=str(doc.get("Driver") or ""),
                   scope=str(doc.get("Scope") or ""),
                   mountpoint=str(doc.get("Mountpoint") or ""),
                   labels=dict(doc.get("Labels") or {}),
                   created=str(doc.get("CreatedAt") or ""),
                   ref_count=int(usage.get("RefCount", -1)) if usage else -1,
                   size=int(usage.get("Size", -1)) if usage else -1)


class VolumesAPI:
    def __init__(self, api: EngineAPI) -> None:
        self._api = api

    def create(self, spec: VolumeCreate) -> VolumeDocument:
        """The new (or existing, same-named) volume, as the daemon describes it."""
        doc: VolumeDocument = self._api.json("POST", "/volumes/create", None, spec.to_json())
        return doc or {}

    def list(self, filters: Filters | None = None) -> tuple[list[VolumeSummary], list[str]]:
        """The volumes, and the daemon's warnings."""
        doc = self._api.json("GET", "/volumes",
                             {"filters": json.dumps(filters) if filters else None}) or {}
        return ([VolumeSummary.from_json(v) for v in doc.get("Volumes") or ()],
                [str(w) for w in doc.get("Warnings") or ()])

    def inspect(self, name: str) -> VolumeDocument:
        doc: VolumeDocument = self._api.json("GET", f"/volumes/{quote_id(name)}")
        return doc

    def remove(self, name: str, force: bool = False) -> None:
        self._api.json("DELETE", f"/volumes/{quote_id(name)}", {"force": force or None})

    def prune(self, filters: Filters | None = None) -> tuple[tuple[str, ...], int]:
        """The names removed and the bytes reclaimed."""
        doc = self._api.json("POST", "/volumes/prune",
                             {"filters": json.dumps(filters) if filters else None}) or {}
        return (tuple(doc.get("VolumesDeleted") or ()), int(doc.get("SpaceReclaimed") or 0))
