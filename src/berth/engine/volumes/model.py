"""Volumes as the engine keeps them and the API shows them (docs/design/volumes.md)."""

from __future__ import annotations

from dataclasses import dataclass

ANONYMOUS_LABEL = "com.docker.volume.anonymous"  # docker's label on anonymous volumes


@dataclass(frozen=True)
class Volume:
    name: str
    driver: str = "local"
    mountpoint: str = ""  # the host directory a container's mount binds
    created: str = ""  # RFC 3339
    labels: tuple[tuple[str, str], ...] = ()
    options: tuple[tuple[str, str], ...] = ()  # driver options (-o type=,device=,o=)
    scope: str = "local"

    @property
    def anonymous(self) -> bool:
        return any(k == ANONYMOUS_LABEL for k, _ in self.labels)


@dataclass(frozen=True)
class VolumeCreate:
    name: str = ""  # "": a random 64-hex name, as docker
    driver: str = "local"
    options: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class VolumeUsage:
    """``system df -v`` and ``/volumes`` UsageData: bytes on disk (-1 unknown) and how
    many containers (running or not) reference the volume."""

    size: int = -1
    ref_count: int = 0


@dataclass(frozen=True)
class VolumePruneReport:
    deleted: tuple[str, ...] = ()
    space_reclaimed: int = 0


@dataclass(frozen=True)
class MountPoint:
    """One entry of a container's inspect ``Mounts`` (docker's types.MountPoint)."""

    type: str  # "bind" | "volume" | "tmpfs"
    destination: str
    source: str = ""  # host path (a volume's mountpoint)
    name: str = ""  # volume name
    driver: str = ""
    mode: str = ""
    rw: bool = True
    propagation: str = ""
