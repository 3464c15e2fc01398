"""The filesystem half of a create request: ``-v``, ``--mount``, ``--tmpfs``,
``--volumes-from`` and ``--read-only`` as docker's CLI sends them (issue 12).

``-v SRC:DST[:MODE]`` travels as a ``HostConfig.Binds`` string (the daemon parses it),
``-v /path`` as a ``Config.Volumes`` key, ``--mount`` as a ``HostConfig.Mounts`` entry
(moby's ``mount.Mount``, ``omitempty`` everywhere) and ``--tmpfs DST[:OPTS]`` as a
``HostConfig.Tmpfs`` map.
"""

from __future__ import annotations

from berth.client.models import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final


class Mount(Value):
    """One ``--mount``: moby's ``mount.Mount``. The per-type options are kept as docker
    names them (``BindOptions``, ``VolumeOptions``, ``TmpfsOptions``); ``None`` is an
    option block not given, which docker leaves out of the JSON."""

    __slots__ = ("bind_options", "consistency", "read_only", "source", "target",
                 "tmpfs_options", "type", "volume_options")
    type: Final[str]
    source: Final[str]
    target: Final[str]
    read_only: Final[bool]
    consistency: Final[str]
    bind_options: Final[dict[str, Any] | None]
    volume_options: Final[dict[str, Any] | None]
    tmpfs_options: Final[dict[str, Any] | None]

    def __init__(self, type: str = "volume", source: str = "", target: str = "",
                 read_only: bool = False, consistency: str = "",
                 bind_options: dict[str, Any] | None = None,
                 volume_options: dict[str, Any] | None = None,
                 tmpfs_options: dict[str, Any] | None = None) -> None:
        self.type = type
        self.source = source
        self.target = target
        self.read_only = read_only
        self.consistency = consistency
        self.bind_options = bind_options
        self.volume_options = volume_options
        self.tmpfs_options = tmpfs_options

    def __hash__(self) -> int:
        return hash((self.type, self.source, self.target))

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"Type": self.type}
        for key, value in (("Source", self.source), ("Target", self.target),
                           ("ReadOnly", self.read_only), ("Consistency", self.consistency),
                           ("BindOptions", self.bind_options),
                           ("VolumeOptions", self.volume_options),
                           ("TmpfsOptions", self.tmpfs_options)):
            if value or value == {}:
                doc[key] = value
        return doc


class ContainerStorage(Value):
    """What the storage flags of ``create``/``run`` ask for."""

    __slots__ = ("binds", "mounts", "read_only", "tmpfs", "volume_driver", "volumes",
                 "volumes_from")
    binds: Final[tuple[str, ...]]
    volumes: Final[tuple[str, ...]]  # anonymous volumes: Config.Volumes' keys
    mounts: Final[tuple[Mount, ...]]
    tmpfs: Final[tuple[tuple[str, str], ...]]  # (target, options), in the order given
    volumes_from: Final[tuple[str, ...]]
    read_only: Final[bool]
    volume_driver: Final[str]  # for -v volumes without a driver of their own

    def __init__(self, binds: tuple[str, ...] = (), volumes: tuple[str, ...] = (),
                 mounts: tuple[Mount, ...] = (), tmpfs: tuple[tuple[str, str], ...] = (),
                 volumes_from: tuple[str, ...] = (), read_only: bool = False,
                 volume_driver: str = "") -> None:
        self.binds = binds
        self.volumes = volumes
        self.mounts = mounts
        self.tmpfs = tmpfs
        self.volumes_from = volumes_from
        self.read_only = read_only
        self.volume_driver = volume_driver

    def fill(self, config: dict[str, Any], host: dict[str, Any]) -> None:
        """Write the Config and HostConfig fields as docker's CLI sends them."""
        if self.volumes:
            config["Volumes"] = {target: {} for target in self.volumes}
        if self.binds:
            host["Binds"] = list(self.binds)
        if self.mounts:
            host["Mounts"] = [m.to_json() for m in self.mounts]
        if self.tmpfs:
            host["Tmpfs"] = dict(self.tmpfs)
        if self.volumes_from:
            host["VolumesFrom"] = list(self.volumes_from)
        host["ReadonlyRootfs"] = self.read_only
        host["VolumeDriver"] = self.volume_driver  # docker sends it, empty or not
