"""The volume service: the API's ``VolumeBackend`` (moby's volume service and store) over
the ``local`` driver and the volumes table.

    create   name checked (docker's words) ─▶ driver options checked ─▶ directories ─▶
             row (an existing name returns that volume: create is idempotent)
    remove   refused while any container record (running or not) names the volume in its
             spec ─▶ row deleted ─▶ unmounted, directories deleted
    acquire / release   what a container's run holds (the preparer's): a volume made with
             ``-o`` is mounted onto its mountpoint by its first holder and unmounted when
             the last one lets go

At start, directories without a record are deleted (``_sweep``): remove deletes the
record before the directories, so a daemon killed in between leaves a volume gone, never
listed half-deleted. References are derived from the container records
(``set_containers``, late-bound like the network service's), never counted apart, so they
survive daemon restarts and cannot drift. One lock orders create, remove, acquire and
release: a remove cannot delete the directories of a volume a create or a start is
handing out at that moment.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from berth.engine.containers.model import Container
from berth.engine.events import Event, EventBus
from berth.engine.volumes import local
from berth.engine.volumes.model import (
    ANONYMOUS_LABEL,
    MountPoint,
    Volume,
    VolumeCreate,
    VolumePruneReport,
    VolumeUsage,
)
from berth.errors import BerthError, Conflict, InvalidArgument, NotFound
from berth.store.metadata.volumes import VolumeRecords

IdMap = Callable[[int, int], tuple[int, int]]

log = logging.getLogger(__name__)

# how long a claim not let go of is honoured: a create goes from its check to its record
# in well under this, even behind a pull holding the image service's lock
CLAIM_TTL = 600.0
RESTRICTED_NAME_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]"
_NAME = re.compile(f"^{RESTRICTED_NAME_CHARS}+$")


class Containers(Protocol):
    """What volumes need of the container service (late-bound: it is made after)."""

    def get(self, ref: str) -> Container: ...

    def list(self) -> builtins.list[Container]: ...


@dataclass(eq=False)
class Claim:
    """The volumes a create's check handed out, in use from that moment until the
    container they are for is removed or its create fails (``VolumePreparer.removed``
    lets go), so no remove or prune takes one before the container's record names it
    (docker's volume reference taken at create). ``mounts``: the checked spec's."""

    names: set[str] = field(default_factory=set)
    mounts: tuple[object, ...] | None = None
    since: float = field(default_factory=time.monotonic)


def validate_name(name: str) -> None:
    """docker's local driver's name check (the ``create NAME: `` prefix is the caller's)."""
    if len(name) == 1:
        raise InvalidArgument("volume name is too short, names should be at least two "
                              "alphanumeric characters")
    if not _NAME.match(name):
        raise InvalidArgument(
            f'"{name}" includes invalid characters for a local volume name, only '
            f'"{RESTRICTED_NAME_CHARS}" are allowed. If you intended to pass a host '
            "directory, use absolute path")


def volume_names(c: Container) -> builtins.list[str]:
    """The volumes ``c``'s spec mounts, in order, each once."""
    return list(dict.fromkeys(m.source for m in c.spec.mounts
                              if m.type == "volume" and m.source))


class VolumeService:
    def __init__(self, data_root: Path, records: VolumeRecords,
                 events: EventBus | None = None, id_map: IdMap | None = None) -> None:
        # --userns-remap: container (uid, gid) → host's; new volumes are the remapped
        # root's and files seeded from an image get the remapped ids (docker's)
        self.id_map = id_map
        self.driver = local.LocalDriver(data_root, None if id_map is None else id_map(0, 0))
        self._records = records
        self._events = events
        self._containers: Containers | None = None
        self._lock = asyncio.Lock()
        # -o volumes: the containers whose run holds the mount (rebuilt lazily after a
        # daemon restart from the running containers' records)
        self._holders: dict[str, set[str]] = {}
        self._claims: builtins.list[Claim] = []  # creates between check and record
        self._sweep()

    def _sweep(self) -> None:
        """Delete the volume directories that have no record, before anything is served:
        a remove or prune killed after deleting the record (the record goes first, so a
        volume is never listed half-deleted), or a create killed before writing it."""
        known = {_from_json(d).name for d in self._records.all()}
        for name in self.driver.names():
            if name in known:
                continue
            log.warning("removing volume directory %s: it has no record (a remove or "
                        "create cut short)", name)
            try:
                self.driver.remove(name)
            except (BerthError, OSError) as err:
                log.error("cannot remove volume directory %s: %s", name, err)

    def set_containers(self, containers: Containers) -> None:
        self._containers = containers

    @property
    def containers(self) -> Containers:
        assert self._containers is not None, "daemon.py binds the container service"
        return self._containers

    # ── create, get, list ────────────────────────────────────────────────────────────

    async def create(self, req: VolumeCreate, claim: Claim | None = None) -> Volume:
        """Create (or find) the volume; with ``claim``, it is claimed in the same step,
        so no prune can take a fresh anonymous volume before its container names it."""
        name = req.name
        labels = req.labels
        if not name:
            name = secrets.token_hex(32)
            labels = (*labels, (ANONYMOUS_LABEL, ""))
        try:
            validate_name(name)
            if (req.driver or local.NAME) != local.NAME:
                raise NotFound(f"error looking up volume plugin {req.driver}: plugin "
                               f'"{req.driver}" not found')
            local.validate_options(dict(req.options))
        except BerthError as err:
            raise type(err)(f"create {name}: {err.message}") from err
        async with self._lock:
            existing = self._find(name)
            if existing is not None:
                if claim is not None:
                    claim.names.add(name)
                return existing
            path = await asyncio.to_thread(self.driver.create, name, dict(req.options))
            vol = Volume(name=name, driver=local.NAME, mountpoint=str(path),
                         created=_created(), labels=tuple(labels),
                         options=tuple(req.options))
            stored = _from_json(await asyncio.to_thread(
                self._records.insert, name, local.NAME, _to_json(vol)))
            if claim is not None:
                claim.names.add(name)
        if stored == vol:
            self._publish("create", name)
        return stored

    def _find(self, name: str) -> Volume | None:
        doc = self._records.get(name)
        return _from_json(doc) if doc is not None else None

    def get(self, name: str) -> Volume:
        vol = self._find(name) if name else None
        if vol is None:
            raise NotFound(f"get {name}: no such volume")
        return vol

    def list(self) -> builtins.list[Volume]:
        return [_from_json(d) for d in self._records.all()]

    # ── claims: creates in flight ────────────────────────────────────────────────────

    def claim(self) -> Claim:
        """A new claim, taken by a create's check (``create(req, claim)``)."""
        c = Claim()
        self._claims.append(c)
        return c

    def bind_claim(self, claim: Claim, mounts: tuple[object, ...]) -> None:
        """``claim`` belongs to the container whose spec mounts ``mounts``."""
        claim.mounts = mounts

    def let_go(self, claim: Claim | None = None, mounts: tuple[object, ...] | None = None
               ) -> None:
        """Drop ``claim``, or the claim bound to ``mounts`` (that same tuple first, else an
        equal one): its container is removed, or its create failed."""
        if claim is None:
            claim = next((c for c in self._claims if c.mounts is mounts), None) or next(
                (c for c in self._claims if c.mounts is not None and c.mounts == mounts),
                None)
        if claim is not None and claim in self._claims:
            self._claims.remove(claim)

    async def hold(self, name: str, claim: Claim) -> bool:
        """Add existing volume ``name`` to ``claim``, in one step with the lookup (a
        remove cannot come between); whether it exists."""
        async with self._lock:
            if self._find(name) is None:
                return False
            claim.names.add(name)
            return True

    def _claimed(self) -> set[str]:
        """The names live claims hold (a claim never let go of expires)."""
        now = time.monotonic()
        self._claims = [c for c in self._claims if now - c.since < CLAIM_TTL]
        return {n for c in self._claims for n in c.names}

    def users(self, name: str) -> builtins.list[str]:
        """The ids of the containers (running or not) whose spec mounts ``name``."""
        return [c.id for c in self.containers.list() if name in volume_names(c)]

    def usage(self, name: str) -> VolumeUsage:
        vol = self.get(name)
        size = -1 if local.needs_mount(dict(vol.options)) else self.driver.size(name)
        return VolumeUsage(size=size, ref_count=len(self.users(name)))

    # ── remove, prune ────────────────────────────────────────────────────────────────

    async def remove(self, name: str, force: bool = False) -> None:
        async with self._lock:
            try:
                self.get(name)
            except NotFound:
                if force:
                    return
                raise
            users = self.users(name)
            if users or self._holders.get(name) or name in self._claimed():
                raise Conflict(f"remove {name}: volume is in use - "
                               f"[{', '.join(users or self._holders.get(name, ()))}]")
            await asyncio.to_thread(self._records.delete, name)
            self._holders.pop(name, None)
            try:
                await asyncio.to_thread(self.driver.remove, name)
            except OSError as err:
                raise BerthError(f"remove {name}: {err}") from err
        self._publish("destroy", name)

    async def prune(self, labels: builtins.list[str], all_volumes: bool
                    ) -> VolumePruneReport:
        """Unused local volumes without ``-o`` options (docker skips those: nothing to
        reclaim), anonymous ones only unless ``all_volumes``."""
        used = {n for c in self.containers.list() for n in volume_names(c)}
        used |= self._claimed()
        deleted: builtins.list[str] = []
        reclaimed = 0
        for vol in self.list():
            if vol.name in used or vol.options or not _label_match(vol, labels):
                continue
            if not (all_volumes or vol.anonymous):
                continue
            size = await asyncio.to_thread(self.driver.size, vol.name)
            try:
                await self.remove(vol.name)
            except (Conflict, NotFound):
                continue
            except BerthError as err:
                log.warning("volume prune: %s", err)
                continue
            deleted.append(vol.name)
            reclaimed += size
        self._publish("prune", "", reclaimed=str(reclaimed))
        return VolumePruneReport(tuple(deleted), reclaimed)

    # ── what containers hold ─────────────────────────────────────────────────────────

    async def acquire(self, name: str, container_id: str) -> Path:
        """The mountpoint of ``name`` for a run of ``container_id``, mounting a volume
        made with ``-o`` first if no one holds it."""
        async with self._lock:
            vol = self.get(name)
            opts = dict(vol.options)
            if local.needs_mount(opts):
                await asyncio.to_thread(self.driver.mount, name, opts)
                self._holders.setdefault(name, set()).add(container_id)
            else:  # a directory whose record outlived it (a crash): make it again
                await asyncio.to_thread(self.driver.create, name, {})
            return self.driver.path(name)

    async def release(self, name: str, container_id: str) -> None:
        """``container_id``'s run lets go of ``name``; a ``-o`` volume no other running
        container holds is unmounted. Idempotent; nothing for a volume gone meanwhile."""
        async with self._lock:
            vol = self._find(name)
            if vol is None or not local.needs_mount(dict(vol.options)):
                return
            holders = self._holders.setdefault(name, set())
            holders.discard(container_id)
            running = {c.id for c in self.containers.list()
                       if c.id != container_id and c.state.running
                       and name in volume_names(c)}
            if holders or running:
                return
            self._holders.pop(name, None)
            await asyncio.to_thread(self.driver.unmount, name)

    # ── inspect ──────────────────────────────────────────────────────────────────────

    def mount_points(self, container: Container) -> builtins.list[MountPoint]:
        """Inspect's ``Mounts``, in docker's shape and its order (by destination)."""
        out = []
        for m in container.spec.mounts:
            if m.type == "volume":
                out.append(MountPoint(type="volume", name=m.source,
                                      source=str(self.driver.path(m.source)),
                                      destination=m.target,
                                      driver=m.volume_driver or local.NAME, mode=m.mode,
                                      rw=not m.read_only))
            elif m.type == "bind":
                out.append(MountPoint(type="bind", source=m.source, destination=m.target,
                                      mode=m.mode, rw=not m.read_only,
                                      propagation=m.propagation or "rprivate"))
            elif m.tmpfs_size or m.tmpfs_mode:  # --mount type=tmpfs (docker lists no
                # HostConfig.Tmpfs in Mounts; the API decodes a sized one as a Mount)
                out.append(MountPoint(type=m.type, destination=m.target, mode=m.mode,
                                      rw=not m.read_only))
        return sorted(out, key=lambda p: p.destination)

    def _publish(self, action: str, name: str, **attrs: str) -> None:
        if self._events is not None:
            extra = {"driver": local.NAME, **attrs} if name else attrs
            self._events.publish(Event("volume", action, name, tuple(extra.items())))

    def publish_mount(self, action: str, name: str, **attrs: str) -> None:
        """A volume's mount/unmount event (the preparer's, at a start and an exit)."""
        self._publish(action, name, **attrs)


def _created() -> str:
    """docker's volume CreatedAt: RFC 3339 to the second (``time.RFC3339``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _label_match(v: Volume, filters: Iterable[str]) -> bool:
    """``label=k``, ``label=k=v``, and ``k!=v``/``!k`` style negations (``label!``)."""
    labels = dict(v.labels)
    for f in filters:
        negate = f.startswith("!") or "!=" in f
        key, _, value = f.lstrip("!").replace("!=", "=", 1).partition("=")
        hit = key in labels and (not value or labels[key] == value)
        if hit == negate:
            return False
    return True


def _to_json(v: Volume) -> str:
    return json.dumps(asdict(v), separators=(",", ":"))


def _from_json(text: str) -> Volume:
    data: dict[str, Any] = json.loads(text)
    v = Volume(**{k: data[k] for k in ("name", "driver", "mountpoint", "created", "scope")
                  if k in data})
    return replace(v, labels=tuple((str(a), str(b)) for a, b in data.get("labels", [])),
                   options=tuple((str(a), str(b)) for a, b in data.get("options", [])))
