"""Choosing this host's manifest from an index (containerd ``platforms``, simplified).

Normalisation, then an exact match on os, architecture and variant, where a missing variant
means the architecture's default::

    x86_64, x86-64 → amd64   (variant "" == v1)
    aarch64        → arm64   (variant "" == v8)
    armhf, armel   → arm     (variant "" == v7)

An ``arm64`` host also runs ``arm/v7`` images, tried only if no ``arm64`` entry matches.
"""

from __future__ import annotations

import platform as host
from collections.abc import Iterable

from berth.errors import NotFound
from berth.registry.client.descriptor import Descriptor, Platform

_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm",
                 "armel": "arm", "i386": "386", "i686": "386"}
_DEFAULT_VARIANT = {"amd64": "v1", "arm64": "v8", "arm": "v7"}
_FALLBACKS = {"arm64": (Platform("linux", "arm", "v7"),)}


def normalize(p: Platform) -> Platform:
    arch = _ARCH_ALIASES.get(p.architecture.lower(), p.architecture.lower())
    variant = p.variant.lower() or _DEFAULT_VARIANT.get(arch, "")
    if p.architecture.lower() == "armel" and not p.variant:
        variant = "v6"
    return Platform(p.os.lower(), arch, variant)


def host_platform() -> Platform:
    return normalize(Platform("linux", host.machine()))


def select(manifests: Iterable[Descriptor], want: Platform | None = None) -> Descriptor:
    """The first entry of an index that runs on ``want`` (default: this host)."""
    want = normalize(want or host_platform())
    entries = [m for m in manifests if m.platform is not None]
    for candidate in (want, *_FALLBACKS.get(want.architecture, ())):
        for entry in entries:
            assert entry.platform is not None
            if normalize(entry.platform) == candidate:
                return entry
    raise NotFound(f"no matching manifest for {want} in the manifest list entries")
