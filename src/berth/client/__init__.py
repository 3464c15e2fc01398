"""A typed client for the Docker Engine API over a unix socket (what ``berth`` uses).

Standard library only (``http.client``), so the CLI starts fast::

    client = Client("unix:///run/berth/berth.sock")
    for c in client.containers.list(all=True): ...
"""

from __future__ import annotations

from typing import Any

from berth.client.containers import ContainersAPI, PendingWait
from berth.client.hijack import HijackedStream
from berth.client.images import ImagesAPI
from berth.client.models import (
    ContainerSpec,
    ContainerSummary,
    Created,
    ImageSummary,
    ImportOptions,
    LogOptions,
    Progress,
    WaitResult,
)
from berth.client.transport import (
    DEFAULT_API_VERSION,
    DEFAULT_HOST,
    DaemonUnreachable,
    Transport,
)

__all__ = [
    "DEFAULT_API_VERSION", "DEFAULT_HOST", "Client", "ContainerSpec", "ContainerSummary",
    "Created", "DaemonUnreachable", "HijackedStream", "ImageSummary", "ImportOptions",
    "LogOptions", "PendingWait", "Progress", "WaitResult",
]


class Client:
    """The Engine API at ``host``; ``containers`` and ``images`` group the endpoints."""

    def __init__(self, host: str = DEFAULT_HOST,
                 api_version: str = DEFAULT_API_VERSION) -> None:
        self.transport = Transport(host, api_version)
        self.containers = ContainersAPI(self.transport)
        self.images = ImagesAPI(self.transport)

    @property
    def host(self) -> str:
        return self.transport.host

    def ping(self) -> str:
        """``GET /_ping``; returns the API version the daemon announces."""
        with self.transport.request("GET", "/_ping") as resp:
            resp.read()
            return resp.getheader("Api-Version", "")

    def version(self) -> dict[str, Any]:
        doc: dict[str, Any] = self.transport.json("GET", "/version")
        return doc

    def info(self) -> dict[str, Any]:
        doc: dict[str, Any] = self.transport.json("GET", "/info")
        return doc
