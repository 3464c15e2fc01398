"""``/system/df``: disk usage by kind (issue 12). Pruning everything (``system prune``) is
each kind's own prune endpoint, called by the CLI in docker's order."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.client.api import EngineAPI

    # docker's ``types.DiskUsage``: LayersSize, Images, Containers, Volumes, BuildCache;
    # ``system df`` reads its fields as the daemon wrote them.
    DiskUsage = dict[str, Any]


class SystemAPI:
    def __init__(self, api: EngineAPI) -> None:
        self._api = api

    def disk_usage(self) -> DiskUsage:
        doc: DiskUsage = self._api.json("GET", "/system/df") or {}
        return doc
