"""``FakeVolumes``: an in-memory ``VolumeBackend`` over ``FakeContainerBackend``, for route
tests. It passes ``volume_backend_suite.py``, as the real ``VolumeService`` must (with the
engine's messages and statuses: docker's ``OpErr`` words).

Nothing is mounted: a volume's mountpoint is ``<data-root>/volumes/<name>/_data`` and
never made. ``check`` plays the volume preparer's part at create: it names and creates
anonymous volumes, creates the named ones a spec uses, and adds ``--volumes-from``'s
mounts; ``removed`` (rm -v, --rm) removes a container's anonymous volumes. A volume is in
use while any container's spec names it, as in the engine.
"""

from __future__ import annotations

import builtins
import secrets
from dataclasses import replace
from typing import TYPE_CHECKING

from berth.api.server.container_mounts import check_volume_name
from berth.engine import clock
from berth.engine.containers.model import Container, ContainerSpec, MountSpec
from berth.engine.volumes.model import (
    ANONYMOUS_LABEL,
    MountPoint,
    Volume,
    VolumeCreate,
    VolumePruneReport,
    VolumeUsage,
)
from berth.errors import Conflict, InvalidArgument, NotFound

if TYPE_CHECKING:
    from tests.unit.api.server.fakes import FakeContainerBackend

_LOCAL_OPTIONS = frozenset({"type", "device", "o"})


class FakeVolumes:
    def __init__(self, containers: FakeContainerBackend,
                 data_root: str = "/var/lib/berth") -> None:
        self._containers = containers
        self._data_root = data_root
        self._volumes: dict[str, Volume] = {}
        containers.checks.append(self.check)
        containers.on_remove.append(self.removed)

    # ── the backend ──────────────────────────────────────────────────────────────────

    async def create(self, req: VolumeCreate) -> Volume:
        return self._create(req)

    def _create(self, req: VolumeCreate) -> Volume:
        name = req.name or secrets.token_hex(32)
        driver = req.driver or "local"
        if driver != "local":
            raise NotFound(f"create {name}: error looking up volume plugin {driver}: "
                           f'plugin "{driver}" not found')
        try:
            check_volume_name(name, driver)
        except InvalidArgument as err:
            raise InvalidArgument(err.message) from None
        for key, _ in req.options:
            if key not in _LOCAL_OPTIONS:
                raise InvalidArgument(f'create {name}: invalid option: "{key}"')
        existing = self._volumes.get(name)
        if existing is not None:
            if existing.driver != driver:
                raise Conflict(f"create {name}: volume name must be unique")
            return existing
        v = Volume(name=name, driver=driver, created=clock.rfc3339(),
                   mountpoint=f"{self._data_root}/volumes/{name}/_data",
                   labels=req.labels, options=req.options)
        self._volumes[name] = v
        return v

    def get(self, name: str) -> Volume:
        v = self._volumes.get(name)
        if v is None:
            raise NotFound(f"get {name}: no such volume")
        return v

    def list(self) -> builtins.list[Volume]:
        return sorted(self._volumes.values(), key=lambda v: v.name)

    def usage(self, name: str) -> VolumeUsage:
        self.get(name)
        return VolumeUsage(size=0, ref_count=len(self._users(name)))

    def _users(self, name: str) -> builtins.list[str]:
        return [c.id for c in self._containers.list()
                if any(m.type == "volume" and m.source == name for m in c.spec.mounts)]

    async def remove(self, name: str, force: bool = False) -> None:
        if name not in self._volumes:
            if force:
                return
            raise NotFound(f"get {name}: no such volume")
        users = self._users(name)
        if users:
            raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
        del self._volumes[name]

    async def prune(self, labels: builtins.list[str], all_volumes: bool
                    ) -> VolumePruneReport:
        deleted = []
        for v in self.list():
            if ((all_volumes or v.anonymous) and not self._users(v.name)
                    and all(_label_match(v, f) for f in labels)):
                del self._volumes[v.name]
                deleted.append(v.name)
        return VolumePruneReport(deleted=tuple(deleted), space_reclaimed=0)

    def mount_points(self, container: Container) -> builtins.list[MountPoint]:
        out = []
        for m in container.spec.mounts:
            if m.type == "bind":
                out.append(MountPoint("bind", m.target, m.source, mode=m.mode,
                                      rw=not m.read_only,
                                      propagation=m.propagation or "rprivate"))
            elif m.type == "volume":
                v = self._volumes.get(m.source)
                out.append(MountPoint("volume", m.target, v.mountpoint if v else "",
                                      name=m.source, driver=v.driver if v else "local",
                                      mode=m.mode or "z", rw=not m.read_only))
            else:
                out.append(MountPoint("tmpfs", m.target, rw=not m.read_only))
        return out

    # ── the preparer's part ──────────────────────────────────────────────────────────

    def check(self, spec: ContainerSpec) -> ContainerSpec:
        """As the engine's preparer: the spec's own mounts first, then --volumes-from's
        at the paths still free."""
        mounts = [self._named(m) for m in spec.mounts]
        targets = {m.target for m in mounts}
        for ref in spec.volumes_from:
            name, _, mode = ref.partition(":")
            try:
                source = self._containers.get(name)
            except NotFound as err:
                raise InvalidArgument(err.message) from None
            for m in source.spec.mounts:
                if m.target not in targets and m.type != "tmpfs":
                    targets.add(m.target)
                    mounts.append(replace(m, read_only=m.read_only
                                          or "ro" in mode.split(","), mode=""))
        return replace(spec, mounts=tuple(mounts))

    def _named(self, m: MountSpec) -> MountSpec:
        if m.type != "volume":
            return m
        if m.source:
            self._create(VolumeCreate(m.source, m.volume_driver or "local",
                                      m.volume_options, m.volume_labels))
            return m
        v = self._create(VolumeCreate("", m.volume_driver or "local", m.volume_options,
                                      ((ANONYMOUS_LABEL, ""), *m.volume_labels)))
        return replace(m, source=v.name)

    def removed(self, c: Container, volumes: bool) -> None:
        """rm -v: the container's anonymous volumes no other container uses."""
        if not volumes:
            return
        for m in c.spec.mounts:
            v = self._volumes.get(m.source) if m.type == "volume" else None
            if v is not None and v.anonymous and not self._users(v.name):
                del self._volumes[v.name]


def _label_match(v: Volume, flt: str) -> bool:
    """"k", "k=v", and the negated "k!=", "k!=v" (label!)."""
    labels = dict(v.labels)
    if "!=" in flt:
        key, _, want = flt.partition("!=")
        return key not in labels if not want else labels.get(key) != want
    key, eq, want = flt.partition("=")
    return key in labels and (not eq or labels[key] == want)
