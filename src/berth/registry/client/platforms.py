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

from berth.errors import InvalidArgument, NotFound
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


def parse(text: str) -> Platform:
    """``os/arch[/variant]`` as docker's ``--platform`` takes it (``linux/arm64/v8``,
    ``linux/amd64``; a bare ``arm64`` means linux)."""
    parts = text.strip().split("/")
    if len(parts) == 1:
        parts = ["linux", *parts]
    if not 2 <= len(parts) <= 3 or not all(p and p.isascii() and p.replace("_", "").isalnum()
                                           for p in parts):
        raise InvalidArgument(f"invalid platform {text!r}: expected os/arch[/variant]")
    return normalize(Platform(*parts))


def display(p: Platform) -> str:
    """A platform as docker's messages show it: the default variant left out, but for arm
    (containerd's ``platforms.Format`` of a normalised platform)."""
    p = normalize(p)
    if p.architecture != "arm" and p.variant == _DEFAULT_VARIANT.get(p.architecture):
        p = Platform(p.os, p.architecture)
    return str(p)


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
    raise NotFound(f"no matching manifest for {display(want)} in the manifest list entries")
