"""A typed client for the Docker Engine API over a unix socket (what ``berth`` uses).

Standard library only, and only what start-up can afford: no ``http.client``, ``json``,
``typing`` or ``dataclasses`` at import (see ``http1`` and ``jsoncodec``), and each part
loads when first used, so ``berth version`` never reads the container or image modules::

    client = Client("unix:///run/berth/berth.sock")
    for c in client.containers.list(all=True): ...

``tests/unit/client/test_import_diet.py`` guards which modules an import pulls in.
"""

from __future__ import annotations

from berth.client import jsoncodec
from berth.client.transport import (
    DEFAULT_API_VERSION,
    DEFAULT_HOST,
    DaemonUnreachable,
    Transport,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

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
    """The Engine API at ``host``; ``containers`` and ``images`` group the endpoints."""

    def __init__(self, host: str = DEFAULT_HOST,
                 api_version: str = DEFAULT_API_VERSION) -> None:
        self.transport = Transport(host, api_version)
        self._containers: ContainersAPI | None = None
        self._images: ImagesAPI | None = None
        self._execs: ExecAPI | None = None

    @property
    def host(self) -> str:
        return self.transport.host

    @property
    def containers(self) -> ContainersAPI:
        if self._containers is None:
            from berth.client.containers import ContainersAPI

            self._containers = ContainersAPI(self.transport)
        return self._containers

    @property
    def images(self) -> ImagesAPI:
        if self._images is None:
            from berth.client.images import ImagesAPI

            self._images = ImagesAPI(self.transport)
        return self._images

    @property
    def execs(self) -> ExecAPI:
        if self._execs is None:
            from berth.client.execs import ExecAPI

            self._execs = ExecAPI(self.transport)
        return self._execs

    def events(self, since: str = "", until: str = "",
               filters: dict[str, list[str]] | None = None) -> Iterator[dict[str, Any]]:
        """``GET /events``: each event as the daemon sends it, until ``until`` passes
        (or forever)."""
        from berth.client.transport import json_lines

        params = {"since": since or None, "until": until or None,
                  "filters": jsoncodec.dumps(filters) if filters else None}
        return json_lines(self.transport.request("GET", "/events", params))

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
