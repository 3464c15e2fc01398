"""A typed client for the Docker Engine API (what ``berth`` uses), over the daemon's unix
socket or, with ``-H tcp://``, over TCP and TLS (``transport`` draws the seam).

Only what start-up can afford: no ``http.client``, ``typing`` or ``dataclasses`` on the
unix path (see ``http1``), the tcp/TLS path loads when a host asks for it, and each part
loads when first used, so ``berth version`` never reads the container or image modules
(``bench/startup.py`` measures the budget)::

    client = Client("unix:///run/berth/berth.sock")
    for c in client.containers.list(all=True): ...
"""

from __future__ import annotations

import json

from berth.client.api import DEFAULT_API_VERSION, EngineAPI
from berth.client.transport import DEFAULT_HOST, DaemonUnreachable, transport_for

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from berth.api.types import responses as wire
    from berth.client.archive import ArchiveAPI
    from berth.client.containers import ContainersAPI, PendingWait
    from berth.client.containerspec import ContainerSpec
    from berth.client.execs import ExecAPI
    from berth.client.hijack import HijackedStream
    from berth.client.images import ImagesAPI
    from berth.client.models import (
        ContainerSummary,
        Created,
        ImageSummary,
        ImportOptions,
        LogOptions,
        Progress,
        WaitResult,
    )
    from berth.client.networks import NetworksAPI
    from berth.client.system import SystemAPI
    from berth.client.tls import TLSOptions
    from berth.client.transport import Transport
    from berth.client.volumes import VolumesAPI

__all__ = [
    "DEFAULT_API_VERSION", "DEFAULT_HOST", "Client", "ContainerSpec", "ContainerSummary",
    "Created", "DaemonUnreachable", "HijackedStream", "ImageSummary", "ImportOptions",
    "LogOptions", "PendingWait", "Progress", "WaitResult",
]

# The re-exported names that live in modules loaded on first use (PEP 562).
_LAZY = {
    "PendingWait": "containers", "HijackedStream": "hijack", "ContainerSpec": "containerspec",
    "ContainerSummary": "models", "Created": "models", "ImageSummary": "models",
    "ImportOptions": "models", "LogOptions": "models", "Progress": "models",
    "WaitResult": "models",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(__import__(f"{__name__}.{module}", fromlist=[name]), name)
    globals()[name] = value
    return value


class Client:
    """The Engine API at ``host``; ``containers``, ``images``, ``execs``, ``networks``,
    ``volumes`` and ``system`` group the endpoints.
    ``tls`` applies to tcp:// hosts; ``transport``, when given, replaces the one ``host``
    would pick (tests run the same client over each transport)."""

    def __init__(self, host: str = DEFAULT_HOST, api_version: str = DEFAULT_API_VERSION,
                 tls: TLSOptions | None = None, transport: Transport | None = None) -> None:
        self.api = EngineAPI(transport or transport_for(host, tls), api_version)
        self._containers: ContainersAPI | None = None
        self._images: ImagesAPI | None = None
        self._execs: ExecAPI | None = None
        self._networks: NetworksAPI | None = None
        self._volumes: VolumesAPI | None = None
        self._system: SystemAPI | None = None
        self._archive: ArchiveAPI | None = None

    @property
    def host(self) -> str:
        return self.api.host

    @property
    def containers(self) -> ContainersAPI:
        if self._containers is None:
            from berth.client.containers import ContainersAPI

            self._containers = ContainersAPI(self.api)
        return self._containers

    @property
    def images(self) -> ImagesAPI:
        if self._images is None:
            from berth.client.images import ImagesAPI

            self._images = ImagesAPI(self.api)
        return self._images

    @property
    def execs(self) -> ExecAPI:
        if self._execs is None:
            from berth.client.execs import ExecAPI

            self._execs = ExecAPI(self.api)
        return self._execs

    @property
    def networks(self) -> NetworksAPI:
        if self._networks is None:
            from berth.client.networks import NetworksAPI

            self._networks = NetworksAPI(self.api)
        return self._networks

    @property
    def volumes(self) -> VolumesAPI:
        if self._volumes is None:
            from berth.client.volumes import VolumesAPI

            self._volumes = VolumesAPI(self.api)
        return self._volumes

    @property
    def system(self) -> SystemAPI:
        if self._system is None:
            from berth.client.system import SystemAPI

            self._system = SystemAPI(self.api)
        return self._system

    @property
    def archive(self) -> ArchiveAPI:
        """``/containers/{id}/archive`` (``cp``)."""
        if self._archive is None:
            from berth.client.archive import ArchiveAPI

            self._archive = ArchiveAPI(self.api)
        return self._archive

    def events(self, since: str = "", until: str = "",
               filters: dict[str, list[str]] | None = None) -> Iterator[wire.EventMessage]:
        """``GET /events``: each event as the daemon sends it, until ``until`` passes
        (or forever)."""
        from berth.client.api import json_lines

        params = {"since": since or None, "until": until or None,
                  "filters": json.dumps(filters) if filters else None}
        return json_lines(self.api.request("GET", "/events", params))

    def ping(self) -> str:
        """``GET /_ping``; returns the API version the daemon announces."""
        with self.api.request("GET", "/_ping") as resp:
            resp.read()
            return resp.getheader("Api-Version", "")

    def version(self) -> wire.SystemVersion:
        doc: wire.SystemVersion = self.api.json("GET", "/version")
        return doc

    def info(self) -> wire.SystemInfo:
        doc: wire.SystemInfo = self.api.json("GET", "/info")
        return doc
