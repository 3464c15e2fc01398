"""Images made on the host instead of pulled from a registry (Berth's ``image bootstrap``):
which names can be bootstrapped, the recipe for each, and the one config every recipe's
single layer gets.

    busybox[:TAG]        busybox.py: Debian's static busybox and its applets
    debian[:SUITE]       debian.py: ``debootstrap --variant=minbase SUITE`` (latest: stable)

``ImageService.bootstrap`` runs ``recipe.build`` outside its lock and writes, unpacks and
tags the layer under it (see recipe.py).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from berth.errors import InvalidArgument
from berth.oci.image import ImageConfig
from berth.oci.reference import Reference

from . import debootstrap
from .busybox import BusyboxRecipe
from .debian import DebianRecipe
from .recipe import BaseLayer, BootstrapProgress, LayerSource, Recipe

__all__ = ["BootstrapOptions", "BootstrapProgress", "LayerSource", "architecture",
           "image_config", "no_progress", "recipe", "remove_scratch"]

SUPPORTED = ("busybox", "debian")
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
           "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x",
           "riscv64": "riscv64"}


@dataclass(frozen=True)
class BootstrapOptions:
    workdir: Path  # scratch trees (debootstrap's target) go under it
    mirror: str = ""  # Debian mirror; empty: the host's apt source, else deb.debian.org


def check_supported(ref: Reference) -> None:
    if ref.domain != "docker.io" or ref.familiar_name() not in SUPPORTED or ref.digest:
        raise InvalidArgument(
            f"cannot bootstrap {ref.familiar()}: supported images are {', '.join(SUPPORTED)}"
        )


def recipe(ref: Reference, options: BootstrapOptions) -> Recipe:
    check_supported(ref)
    if ref.familiar_name() == "debian":
        return DebianRecipe(suite=DebianRecipe.suite_of(ref.tag), mirror=options.mirror,
                            workdir=options.workdir)
    return BusyboxRecipe()


async def no_progress(line: str) -> None:
    pass


def remove_scratch(options: BootstrapOptions) -> None:
    """Remove the scratch trees of bootstraps a killed daemon left (at daemon start)."""
    debootstrap.remove_stale(options.workdir)


def architecture() -> str:
    machine = platform.machine()
    return _ARCHES.get(machine, machine)


def image_config(diff_id: str, layer: BaseLayer) -> ImageConfig:
    created = datetime.fromtimestamp(layer.mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "architecture": architecture(),
        "os": "linux",
        "created": created,
        "config": {"Env": [PATH_ENV], "Cmd": list(layer.cmd)},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": layer.created_by}],
    }
