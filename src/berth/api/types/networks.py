"""The bodies of ``POST /networks/create``, ``/networks/{id}/connect`` and
``/networks/{id}/disconnect`` (API 1.45), every field the reference spec names, decoded with
Go's rules by ``decode.py`` like the container bodies.

A connect's ``EndpointConfig`` is the create body's ``EndpointSettings``
(``containers.py``): docker uses one type for both, and so does berth.
"""

from __future__ import annotations

import msgspec

from berth.api.types.containers import EndpointSettings


class IPAMConfig(msgspec.Struct, omit_defaults=True):
    """One pool of a network; also rendered in a network's ``IPAM.Config``, where Go
    leaves out each empty field (omitempty)."""

    Subnet: str = ""
    IPRange: str = ""
    Gateway: str = ""
    AuxiliaryAddresses: dict[str, str] | None = None


class IPAM(msgspec.Struct):
    Driver: str = ""
    Config: list[IPAMConfig] | None = None
    Options: dict[str, str] | None = None


class ConfigReference(msgspec.Struct):
    Network: str = ""


class NetworkCreateRequest(msgspec.Struct):
    Name: str = ""
    CheckDuplicate: bool = False  # deprecated since 1.44: names are always unique
    Driver: str = ""
    Scope: str = ""
    EnableIPv6: bool | None = None
    IPAM: IPAM | None = None
    Internal: bool = False
    Attachable: bool = False
    Ingress: bool = False
    ConfigOnly: bool = False
    ConfigFrom: ConfigReference | None = None
    Options: dict[str, str] | None = None
    Labels: dict[str, str] | None = None


class NetworkConnectRequest(msgspec.Struct):
    Container: str = ""
    EndpointConfig: EndpointSettings | None = None


class NetworkDisconnectRequest(msgspec.Struct):
    Container: str = ""
    Force: bool = False
