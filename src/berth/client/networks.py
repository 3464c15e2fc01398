"""``/networks``: the network endpoints the CLI uses, typed like the container calls.

Listing decodes each network into a ``NetworkSummary``; ``inspect`` hands on the daemon's
document as it is (``network inspect`` prints it, as ``container inspect`` does).
"""

from __future__ import annotations

import json

from berth.client.api import quote_id
from berth.client.models import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

    from berth.client.api import EngineAPI
    from berth.client.networking import EndpointConfig

    # ``GET /networks/{id}``: docker's ``network.Inspect``, printed as received.
    NetworkDocument = dict[str, Any]
    Filters = dict[str, list[str]]  # module scope: ``list`` is a method name in the class


class IPAMPool(Value):
    """One ``IPAM.Config`` entry: a subnet with its optional range and gateway."""

    __slots__ = ("gateway", "ip_range", "subnet")
    subnet: Final[str]
    ip_range: Final[str]
    gateway: Final[str]

    def __init__(self, subnet: str, ip_range: str = "", gateway: str = "") -> None:
        self.subnet = subnet
        self.ip_range = ip_range
        self.gateway = gateway

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"Subnet": self.subnet, "AuxiliaryAddresses": {}}
        if self.ip_range:
            doc["IPRange"] = self.ip_range
        if self.gateway:
            doc["Gateway"] = self.gateway
        return doc


class NetworkCreate(Value):
    """The body of ``POST /networks/create`` (docker's ``network.CreateOptions``)."""

    __slots__ = ("attachable", "driver", "internal", "ipam_driver", "labels", "name",
                 "options", "pools")
    name: Final[str]
    driver: Final[str]
    internal: Final[bool]
    attachable: Final[bool]
    labels: Final[dict[str, str]]
    options: Final[dict[str, str]]
    ipam_driver: Final[str]
    pools: Final[tuple[IPAMPool, ...]]

    def __init__(self, name: str, driver: str = "bridge", internal: bool = False,
                 attachable: bool = False, labels: dict[str, str] | None = None,
                 options: dict[str, str] | None = None, ipam_driver: str = "default",
                 pools: tuple[IPAMPool, ...] = ()) -> None:
        self.name = name
        self.driver = driver
        self.internal = internal
        self.attachable = attachable
        self.labels = {} if labels is None else labels
        self.options = {} if options is None else options
        self.ipam_driver = ipam_driver
        self.pools = pools

    def to_json(self) -> dict[str, Any]:
        return {
            "Name": self.name, "Driver": self.driver, "Options": self.options,
            "IPAM": {"Driver": self.ipam_driver, "Config": [p.to_json() for p in self.pools],
                     "Options": {}},
            "Internal": self.internal, "Attachable": self.attachable, "Ingress": False,
            "ConfigOnly": False, "Labels": self.labels, "EnableIPv6": False,
        }


class NetworkSummary(Value):
    """One entry of ``GET /networks``: what ``network ls`` shows."""

    __slots__ = ("created", "driver", "enable_ipv4", "enable_ipv6", "id", "internal",
                 "labels", "name", "scope")
    id: Final[str]
    name: Final[str]
    driver: Final[str]
    scope: Final[str]
    internal: Final[bool]
    enable_ipv4: Final[bool]
    enable_ipv6: Final[bool]
    labels: Final[dict[str, str]]
    created: Final[str]  # RFC 3339, as the daemon sends it

    def __init__(self, id: str, name: str, driver: str = "", scope: str = "local",
                 internal: bool = False, enable_ipv4: bool = True, enable_ipv6: bool = False,
                 labels: dict[str, str] | None = None, created: str = "") -> None:
        self.id = id
        self.name = name
        self.driver = driver
        self.scope = scope
        self.internal = internal
        self.enable_ipv4 = enable_ipv4
        self.enable_ipv6 = enable_ipv6
        self.labels = {} if labels is None else labels
        self.created = created

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> NetworkSummary:
        return cls(id=str(doc.get("Id") or ""), name=str(doc.get("Name") or ""),
                   driver=str(doc.get("Driver") or ""), scope=str(doc.get("Scope") or ""),
                   internal=bool(doc.get("Internal")),
                   enable_ipv4=bool(doc.get("EnableIPv4", True)),
                   enable_ipv6=bool(doc.get("EnableIPv6")),
                   labels=dict(doc.get("Labels") or {}), created=str(doc.get("Created") or ""))


class NetworksAPI:
    def __init__(self, api: EngineAPI) -> None:
        self._api = api

    def create(self, spec: NetworkCreate) -> str:
        """The new network's id."""
        doc = self._api.json("POST", "/networks/create", None, spec.to_json())
        return str((doc or {}).get("Id") or "")

    def list(self, filters: Filters | None = None) -> list[NetworkSummary]:
        docs = self._api.json("GET", "/networks",
                              {"filters": json.dumps(filters) if filters else None})
        return [NetworkSummary.from_json(d) for d in docs or ()]

    def inspect(self, ident: str, verbose: bool = False) -> NetworkDocument:
        doc: NetworkDocument = self._api.json("GET", f"/networks/{quote_id(ident)}",
                                              {"verbose": verbose or None})
        return doc

    def remove(self, ident: str) -> None:
        self._api.json("DELETE", f"/networks/{quote_id(ident)}")

    def prune(self, filters: Filters | None = None) -> tuple[str, ...]:
        """The names of the networks removed."""
        doc = self._api.json("POST", "/networks/prune",
                             {"filters": json.dumps(filters) if filters else None})
        return tuple((doc or {}).get("NetworksDeleted") or ())

    def connect(self, network: str, container: str, endpoint: EndpointConfig) -> None:
        self._api.json("POST", f"/networks/{quote_id(network)}/connect", None,
                       {"Container": container, "EndpointConfig": endpoint.to_json()})

    def disconnect(self, network: str, container: str, force: bool = False) -> None:
        self._api.json("POST", f"/networks/{quote_id(network)}/disconnect", None,
                       {"Container": container, "Force": force})
