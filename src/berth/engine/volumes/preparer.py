"""The volume preparer: a container's mounts at create (``check``), before each run
(``prepare``), after it (``release``) and after its removal (``removed``)::

    check    each mount well formed (docker's words) ─▶ --volumes-from's mounts copied
             (":ro" makes them read-only) ─▶ the request's mounts over them (a duplicate
             target among these is refused) ─▶ the image's VOLUMEs not mounted yet, as
             anonymous volumes ─▶ anonymous volumes named and created, named ones made if
             missing, each claimed as it is found or made (no remove or prune takes it
             before the record names it) ─▶ the spec with every volume mount's source
             its name
    prepare  each volume acquired (a -o one mounted) and, on the container's first run,
             seeded from the image when empty (unless nocopy) ─▶ a -v bind's missing
             source made ─▶ one spec option: the OCI mounts (binds of host paths and
             volume mountpoints, tmpfs), sorted by depth after the standard ones
    release  each volume let go (a -o one unmounted by its last user); idempotent
    removed  the create's claim let go of (the container is gone, or its create
             failed); volumes=True (rm -v, --rm): its anonymous volumes that no other
             container uses are removed

Mounts reach the runtime only as OCI ``mounts``: runc and crun resolve each destination
inside the root themselves, and so does the native runtime (``secure_join``); targets are
cleaned here as docker cleans them (no ``..`` survives).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import posixpath
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from berth.engine.containers.model import Container, ContainerSpec, MountSpec
from berth.engine.images.service import ImageService
from berth.engine.volumes import seed
from berth.engine.volumes.model import VolumeCreate
from berth.engine.volumes.service import Claim, IdMap, VolumeService, validate_name
from berth.errors import BerthError, Conflict, InvalidArgument, NotFound
from berth.oci import spec as oci
from berth.runtime.spec import SpecOpt
from berth.store.rootview import LayerTree

log = logging.getLogger(__name__)

NEVER_STARTED = "0001-01-01T00:00:00Z"
PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
# the runtime's own mounts (runtime/spec.py): they stay first, unless a mount replaces one
STANDARD = ("/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue",
            "/dev/shm")
TMPFS_DEFAULTS = ("noexec", "nosuid", "nodev", "rprivate")
_OPPOSITE = {"ro": "rw", "noexec": "exec", "nosuid": "suid", "nodev": "dev",
             "noatime": "atime", "sync": "async", "nodiratime": "diratime"}
_OPPOSITE |= {v: k for k, v in _OPPOSITE.items()}


class VolumePreparer:
    def __init__(self, volumes: VolumeService, images: ImageService) -> None:
        self._vols = volumes
        self._images = images
        # the volumes each prepared run mounted (this daemon's), for the unmount events
        self._mounted: dict[str, list[str]] = {}

    # ── check ────────────────────────────────────────────────────────────────────────

    async def check(self, spec: ContainerSpec) -> ContainerSpec:
        mounts: dict[str, MountSpec] = {}
        for m in self._volumes_from(spec.volumes_from):
            mounts[m.target] = m
        requested: set[str] = set()
        for m in spec.mounts:
            m = check_mount(m)
            if m.target in requested:
                raise InvalidArgument(f"Duplicate mount point: {m.target}")
            requested.add(m.target)
            mounts[m.target] = m
        image = await self._images.get(spec.image)
        volumes = image.config.get("config", {}).get("Volumes") or {}
        for target in sorted(volumes if spec.image_volumes else {}):
            target = posixpath.normpath(target) if target.startswith("/") else target
            if target.startswith("/") and target not in mounts:
                mounts[target] = MountSpec(type="volume", target=target)
        resolved: list[MountSpec] = []
        # the volumes are in use from here on, not only once the record names them
        claim = self._vols.claim()
        try:
            for m in mounts.values():
                if m.type == "volume":
                    m = await self._volume(m, claim)
                resolved.append(m)
        except BaseException:  # the anonymous volumes made so far go again
            self._vols.let_go(claim)
            for made in resolved:
                if made.type == "volume" and not mounts[made.target].source:
                    with contextlib.suppress(BerthError):
                        await self._vols.remove(made.source)
            raise
        out = tuple(resolved)
        self._vols.bind_claim(claim, out)  # let go of by ``removed``
        return replace(spec, mounts=out)

    def _volumes_from(self, refs: Sequence[str]) -> list[MountSpec]:
        out = []
        for ref in refs:
            name, read_only = parse_volumes_from(ref)
            try:
                source = self._vols.containers.get(name)
            except NotFound as err:
                raise InvalidArgument(err.message) from err
            out += [replace(m, read_only=m.read_only or read_only, nocopy=True, mode="",
                            create_source=False) for m in source.spec.mounts]
        return out

    async def _volume(self, m: MountSpec, claim: Claim) -> MountSpec:
        """Name (and create) the volume of ``m``, held by ``claim``."""
        try:
            if m.source and await self._vols.hold(m.source, claim):
                return m
            vol = await self._vols.create(VolumeCreate(
                name=m.source, driver=m.volume_driver or "local",
                options=m.volume_options, labels=m.volume_labels), claim)
        except NotFound as err:  # a 404 makes docker's CLI pull the image
            raise InvalidArgument(err.message) from err
        return replace(m, source=vol.name)

    # ── prepare ──────────────────────────────────────────────────────────────────────

    async def prepare(self, container: Container) -> Sequence[SpecOpt]:
        c = container
        entries: list[oci.Mount] = []
        try:
            rootfs: LayerTree | None = None
            for m in c.spec.mounts:
                if m.type == "volume":
                    path = await self._vols.acquire(m.source, c.id)
                    if not m.nocopy and c.state.started_at == NEVER_STARTED:
                        if rootfs is None:
                            rootfs = LayerTree.from_mounts(
                                await self._images.rootfs_mounts(c.id))
                        id_map = (self._vols.id_map
                                  if c.spec.security.userns_mode != "host" else None)
                        await asyncio.to_thread(_seed_if_empty, rootfs, m.target, path,
                                                id_map)
                    entries.append(bind_entry(str(path), m))
                    self._mounted.setdefault(c.id, []).append(m.source)
                    self._vols.publish_mount(
                        "mount", m.source, container=c.id, destination=m.target,
                        propagation=m.propagation, **{"read/write": str(not m.read_only)
                                                      .lower()})
                elif m.type == "bind":
                    if m.create_source:
                        await asyncio.to_thread(_make_source, m.source)
                    elif not os.path.lexists(m.source):
                        raise InvalidArgument(_bind_missing(m.source))
                    entries.append(bind_entry(m.source, m))
                else:
                    entries.append(tmpfs_entry(m))
        except BaseException:
            await self.release(c)
            raise
        return [with_mounts(entries)] if entries else []

    # ── release, removed ─────────────────────────────────────────────────────────────

    async def release(self, container: Container) -> None:
        for m in container.spec.mounts:
            if m.type == "volume" and m.source:
                await self._vols.release(m.source, container.id)
        for name in self._mounted.pop(container.id, []):
            self._vols.publish_mount("unmount", name, container=container.id)

    async def removed(self, container: Container, volumes: bool) -> None:
        self._vols.let_go(mounts=container.spec.mounts)  # its create's claim
        if not volumes:
            return
        for m in container.spec.mounts:
            if m.type != "volume" or not m.source:
                continue
            try:
                if not self._vols.get(m.source).anonymous:
                    continue  # docker keeps named volumes
                await self._vols.remove(m.source)
            except (NotFound, Conflict):
                continue  # gone, or another container uses it


# ── pure parts ───────────────────────────────────────────────────────────────────────


def _config_error(kind: str, message: str) -> InvalidArgument:
    return InvalidArgument(f'invalid mount config for type "{kind}": {message}')


def _bind_missing(source: str) -> str:
    return f'invalid mount config for type "bind": bind source path does not exist: {source}'


def check_mount(m: MountSpec) -> MountSpec:
    """``m`` as docker's mount parser accepts it (target cleaned, mode defaulted), or
    InvalidArgument in docker's words."""
    kind = m.type
    if kind not in ("bind", "volume", "tmpfs"):
        raise _config_error(kind, "mount type unknown")
    if not m.target:
        raise _config_error(kind, "field Target must not be empty")
    if not m.target.startswith("/"):
        raise _config_error(kind, f"invalid mount path: '{m.target}' mount path must be "
                                  "absolute")
    target = posixpath.normpath(m.target)
    if target.startswith("//"):
        target = "/" + target.lstrip("/")
    if target == "/":
        raise _config_error(kind, "invalid specification: destination can't be '/'")
    m = replace(m, target=target)
    if kind == "bind":
        if not m.source:
            raise _config_error(kind, "field Source must not be empty")
        if not m.source.startswith("/"):
            raise _config_error(kind, f"invalid mount path: '{m.source}' mount path must "
                                      "be absolute")
        if m.propagation and m.propagation not in PROPAGATIONS:
            raise _config_error(kind, f"invalid propagation mode: {m.propagation}")
        source = posixpath.normpath(m.source)
        if not m.create_source and not os.path.lexists(source):
            raise InvalidArgument(_bind_missing(source))
        return replace(m, source=source, propagation=m.propagation or "rprivate")
    if kind == "tmpfs":
        if m.source:
            raise _config_error(kind, "field Source must not be specified")
        return m
    if m.source:
        try:
            validate_name(m.source)
        except InvalidArgument as err:
            raise InvalidArgument(f"create {m.source}: {err.message}") from err
    if (m.volume_driver or "local") != "local":
        raise InvalidArgument(f"create {m.source}: error looking up volume plugin "
                              f'{m.volume_driver}: plugin "{m.volume_driver}" not found')
    return replace(m, mode=m.mode or "z")  # docker's setBindModeIfNull (local driver)


def parse_volumes_from(ref: str) -> tuple[str, bool]:
    """``container[:mode]`` → (container, read-only); docker's ParseVolumesFrom."""
    if not ref:
        raise InvalidArgument("volumes-from specification cannot be an empty string")
    name, _, mode = ref.partition(":")
    opts = mode.split(",") if mode else []
    if any(o not in ("ro", "rw", "z", "Z") for o in opts) or (
            "ro" in opts and "rw" in opts):
        raise InvalidArgument(f"invalid mode: {mode}")
    return name, "ro" in opts


def bind_entry(source: str, m: MountSpec) -> oci.Mount:
    options = ["rbind"]
    if m.read_only:
        options.append("ro")
    if m.type == "bind":
        options.append(m.propagation or "rprivate")
    return {"destination": m.target, "type": "bind", "source": source, "options": options}


def tmpfs_options(m: MountSpec) -> list[str]:
    """docker's ``noexec,nosuid,nodev,rprivate`` merged with the mount's own (a later
    flag replaces its opposite, a later ``key=`` its earlier value)."""
    own: list[str] = []
    if m.read_only:
        own.append("ro")
    if m.tmpfs_mode:
        own.append(f"mode={m.tmpfs_mode:o}")
    if m.tmpfs_size:
        own.append(f"size={_size_text(m.tmpfs_size)}")
    own += [o for opt in m.tmpfs_options for o in opt.split(",") if o]
    merged: list[str] = []
    for opt in (*TMPFS_DEFAULTS, *own):
        key = opt.partition("=")[0] + "=" if "=" in opt else None
        merged = [o for o in merged if o != opt and o != _OPPOSITE.get(opt)
                  and not (key and o.startswith(key))]
        merged.append(opt)
    return merged


def _size_text(size: int) -> str:
    for suffix, divisor in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if size % divisor == 0:
            return f"{size // divisor}{suffix}"
    return str(size)


def tmpfs_entry(m: MountSpec) -> oci.Mount:
    return {"destination": m.target, "type": "tmpfs", "source": "tmpfs",
            "options": tmpfs_options(m)}


def _depth(destination: str) -> int:
    return len([p for p in destination.split("/") if p])


def with_mounts(entries: Sequence[oci.Mount]) -> SpecOpt:
    """The container's mounts as docker's ``withMounts``: a mount replaces the one at its
    destination (an /etc/hosts bind, /dev/shm; a /dev mount everything under /dev), the
    runtime's standard mounts stay first, the rest follow by depth (a parent before what
    is mounted inside it)."""
    def apply(spec: oci.Spec) -> None:
        dests = {e["destination"] for e in entries}
        dev = "/dev" in dests
        kept = [m for m in spec["mounts"] if m["destination"] not in dests
                and not (dev and m["destination"].startswith("/dev/"))]
        first = [m for m in kept if m["destination"] in STANDARD]
        rest = [m for m in kept if m["destination"] not in STANDARD]
        spec["mounts"] = first + sorted([*rest, *entries],
                                        key=lambda m: _depth(m["destination"]))
    return apply


def _make_source(path: str) -> None:
    """A ``-v`` bind's missing source: made as a directory, as docker does."""
    if not os.path.lexists(path):
        try:
            os.makedirs(path, 0o755, exist_ok=True)
        except OSError as err:
            raise BerthError(f"error while creating mount source path '{path}': "
                             f"mkdir {path}: {err.strerror}") from err


def _remap_tree(path: Path, id_map: IdMap, root_before: tuple[int, int]) -> None:
    """--userns-remap: the seeded files (on-disk ids as in the image) to the remapped
    ids, as docker's copy has them; a chown clears set-id bits, so the mode is put back.
    The volume's own directory only if the seed gave it the image directory's owner."""
    def remap(p: str) -> None:
        st = os.lstat(p)
        os.chown(p, *id_map(st.st_uid, st.st_gid), follow_symlinks=False)
        if st.st_mode & 0o6000 and not os.path.islink(p):
            os.chmod(p, st.st_mode & 0o7777)

    root = os.stat(path)
    if (root.st_uid, root.st_gid) != root_before:
        remap(str(path))
    for top, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            remap(os.path.join(top, name))


def _seed_if_empty(rootfs: LayerTree, target: str, path: Path,
                   id_map: IdMap | None = None) -> None:
    if seed.is_empty(str(path)):
        try:
            before = os.stat(path)
            seed.seed(rootfs, target, str(path))
            if id_map is not None:
                _remap_tree(path, id_map, (before.st_uid, before.st_gid))
        except OSError as err:
            raise BerthError(f"copying the image's {target} into its volume failed: "
                             f"{err}") from err
