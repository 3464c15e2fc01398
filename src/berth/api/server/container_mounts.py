"""A create body's filesystem fields as ``ContainerSpec.mounts`` and ``volumes_from``, and
back for inspect (docs/design/volumes.md).

    HostConfig.Binds     "src:dst[:mode]" (moby's ``ParseMountRaw``): an absolute src is a
                         bind (its missing source made at start), a name a volume, "/dst"
                         alone an anonymous volume; mode: ro|rw, z|Z, nocopy, a propagation
    HostConfig.Mounts    Type bind|volume|tmpfs (``ParseMountSpec``): a bind's source
                         must exist (unless BindOptions.CreateMountpoint)
    HostConfig.Tmpfs     {"/run": "size=16m,noexec"}
    Config.Volumes       {"/data": {}}: an anonymous volume unless another mount has the path
    HostConfig.VolumesFrom  "container[:ro|rw]"

Errors are docker's words. The spec keeps what the engine needs, not the request, so
inspect's HostConfig.Binds/Mounts/Tmpfs and Config.Volumes are rebuilt from the mounts
(``host_fields``): a bind made by ``-v`` (create_source) is a Bind, one of ``--mount`` a
Mount; a named volume is a Bind unless it carries --mount's volume options; a tmpfs with a
size or mode is a Mount, other tmpfs are HostConfig.Tmpfs; anonymous volumes are
Config.Volumes.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable
from dataclasses import replace

from berth.api.types import containers as types
from berth.engine.containers.model import ContainerSpec, MountSpec
from berth.engine.volumes.model import Volume
from berth.errors import InvalidArgument, NotFound

_RW_MODES = frozenset({"rw", "ro"})
_LABEL_MODES = frozenset({"z", "Z"})
_PROPAGATIONS = frozenset({"private", "rprivate", "slave", "rslave", "shared", "rshared"})
_COPY_MODES = frozenset({"nocopy"})
_CONSISTENCY = frozenset({"consistent", "cached", "delegated"})
_VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_TYPES = ("bind", "volume", "tmpfs")


def _valid_mode(mode: str) -> bool:
    """moby's ``linuxValidMountMode``: known words, at most one of each kind."""
    if mode == "":
        return True
    counts = [0, 0, 0, 0, 0]
    for word in mode.split(","):
        for i, kind in enumerate((_RW_MODES, _LABEL_MODES, _PROPAGATIONS, _COPY_MODES,
                                  _CONSISTENCY)):
            if word in kind:
                counts[i] += 1
                break
        else:
            return False
    return max(counts) <= 1


def _clean(p: str) -> str:
    """Go's ``path.Clean`` (normpath keeps a leading "//", Go does not)."""
    cleaned = posixpath.normpath(p)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def _check_target(target: str) -> None:
    if target == "":
        raise ValueError("field Target must not be empty")
    if _clean(target.replace("\\", "/")) == "/":
        raise ValueError("invalid specification: destination can't be '/'")
    if not target.replace("\\", "/").startswith("/"):
        raise ValueError(f"invalid mount path: '{target}' mount path must be absolute")


def check_volume_name(name: str, driver: str) -> None:
    """The local driver's names (docker refuses the rest when it creates the volume)."""
    if not name or driver not in ("", "local"):
        return
    if len(name) == 1:
        raise InvalidArgument(f"create {name}: volume name is too short, names should be at "
                              "least two alphanumeric characters")
    if not _VOLUME_NAME.match(name):
        raise InvalidArgument(
            f'create {name}: "{name}" includes invalid characters for a local volume name, '
            'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
            "directory, use absolute path")


def _driver(name: str) -> str:
    """HostConfig.VolumeDriver for a volume: "" is local (so inspect echoes a Bind)."""
    return "" if name == "local" else name


def parse_bind(raw: str, volume_driver: str = "") -> MountSpec:
    """One HostConfig.Binds entry (moby's ``ParseMountRaw``)."""
    invalid = f"invalid volume specification: '{raw}'"
    arr = raw.split(":", 3)
    if arr[0] == "":
        raise InvalidArgument(invalid)
    source, mode = "", ""
    if len(arr) == 1:
        target = arr[0]
    elif len(arr) == 2:
        if _valid_mode(arr[1]):
            raise InvalidArgument(invalid)  # "/foo:rw": a destination cannot have a mode
        source, target = arr
    elif len(arr) == 3:
        source, target, mode = arr
    else:
        raise InvalidArgument(invalid)
    if not _valid_mode(mode):
        raise InvalidArgument(f"invalid mode: {mode}")
    words = mode.split(",") if mode else []
    kind = "bind" if source.startswith("/") else "volume"
    propagation = next((w for w in words if w in _PROPAGATIONS), "")
    nocopy = "nocopy" in words
    try:
        if propagation and kind != "bind":
            raise ValueError(f'invalid mount config for type "{kind}": field BindOptions '
                             "must not be specified")
        if nocopy and kind != "volume":
            raise ValueError(f'invalid mount config for type "{kind}": field VolumeOptions '
                             "must not be specified")
        try:
            _check_target(target)
        except ValueError as err:
            raise ValueError(f'invalid mount config for type "{kind}": {err}') from None
    except ValueError as err:
        raise InvalidArgument(f"{invalid}: {err}") from None
    if kind == "volume":
        check_volume_name(source, volume_driver)
    return MountSpec(
        type=kind, target=_clean(target),
        source=_clean(source) if kind == "bind" else source,
        read_only="ro" in words, propagation=propagation, create_source=kind == "bind",
        nocopy=nocopy, volume_driver=_driver(volume_driver) if kind == "volume" else "",
        mode=mode)


def parse_mount(m: types.Mount, index: int) -> MountSpec:
    """One HostConfig.Mounts entry (moby's ``ParseMountSpec``)."""
    def bad(msg: str) -> InvalidArgument:
        return InvalidArgument(f'invalid mount config for type "{m.Type}": {msg}')

    for kind, opts in (("bind", m.BindOptions), ("volume", m.VolumeOptions),
                       ("tmpfs", m.TmpfsOptions)):
        if m.Type != kind and opts is not None:
            raise bad(f"field {kind.capitalize()}Options must not be specified"
                      if kind != "tmpfs" else "field TmpfsOptions must not be specified")
    try:
        _check_target(m.Target)
    except ValueError as err:
        raise bad(str(err)) from None
    refused = f"HostConfig.Mounts[{index}]"
    if m.Type == "bind":
        opts = m.BindOptions or types.BindOptions()
        if not m.Source:
            raise bad("field Source must not be empty")
        if opts.Propagation and opts.Propagation not in _PROPAGATIONS:
            raise bad(f"invalid propagation mode: {opts.Propagation}")
        if not m.Source.replace("\\", "/").startswith("/"):
            raise bad(f"invalid mount path: '{m.Source}' mount path must be absolute")
        if not opts.CreateMountpoint and not os.path.lexists(m.Source):
            raise bad(f"bind source path does not exist: {m.Source}")
        for name in ("NonRecursive", "ReadOnlyNonRecursive", "ReadOnlyForceRecursive"):
            if getattr(opts, name):
                raise InvalidArgument(f"berth does not support {refused}.BindOptions.{name} "
                                      "yet")
        return MountSpec(type="bind", target=_clean(m.Target), source=_clean(m.Source),
                         read_only=m.ReadOnly, propagation=opts.Propagation,
                         create_source=opts.CreateMountpoint)
    if m.Type == "volume":
        vopts = m.VolumeOptions or types.VolumeOptions()
        if vopts.Subpath:
            if not m.Source:
                raise bad("must not set Subpath when using anonymous volumes")
            raise InvalidArgument(f"berth does not support {refused}.VolumeOptions.Subpath "
                                  "yet")
        driver = vopts.DriverConfig or types.Driver()
        check_volume_name(m.Source, driver.Name)
        return MountSpec(type="volume", target=_clean(m.Target), source=m.Source,
                         read_only=m.ReadOnly, nocopy=vopts.NoCopy, volume_driver=driver.Name,
                         volume_options=tuple((driver.Options or {}).items()),
                         volume_labels=tuple((vopts.Labels or {}).items()))
    if m.Type == "tmpfs":
        if m.Source:
            raise bad("field Source must not be specified")
        topts = m.TmpfsOptions or types.TmpfsOptions()
        if topts.SizeBytes < 0:
            raise bad(f"invalid tmpfs size: {topts.SizeBytes}")
        return MountSpec(type="tmpfs", target=_clean(m.Target), read_only=m.ReadOnly,
                         tmpfs_size=topts.SizeBytes, tmpfs_mode=topts.Mode)
    if m.Type in ("image", "npipe", "cluster"):
        raise InvalidArgument(f"berth does not support {refused}.Type {m.Type!r} yet")
    raise bad("mount type unknown")


def parse_volumes_from(raw: str) -> str:
    """moby's ``ParseVolumesFrom``: "container[:mode]", no propagation nor copy mode."""
    if raw == "":
        raise InvalidArgument("volumes-from specification cannot be an empty string")
    _, _, mode = raw.partition(":")
    words = mode.split(",") if mode else []
    if mode and (not _valid_mode(mode) or any(w in _PROPAGATIONS | _COPY_MODES
                                              for w in words)):
        raise InvalidArgument(f"invalid mode: {mode}")
    return raw


def _tmpfs(target: str, options: str) -> MountSpec:
    try:
        _check_target(target)
    except ValueError as err:
        raise InvalidArgument(str(err)) from None
    return MountSpec(type="tmpfs", target=_clean(target),
                     tmpfs_options=tuple(o for o in options.split(",") if o))


def with_mounts(spec: ContainerSpec, body: types.ContainerCreate) -> ContainerSpec:
    """``spec`` with the body's mounts, in docker's order of precedence; "Duplicate mount
    point" when two of Binds, Mounts and Tmpfs name one path."""
    host = body.HostConfig
    mounts: list[MountSpec] = [parse_bind(b, host.VolumeDriver) for b in host.Binds or ()]
    mounts += [parse_mount(m, i) for i, m in enumerate(host.Mounts or ())]
    mounts += [_tmpfs(t, o) for t, o in (host.Tmpfs or {}).items()]
    seen: set[str] = set()
    for m in mounts:
        if m.target in seen:
            raise InvalidArgument(f"Duplicate mount point: {m.target}")
        seen.add(m.target)
    for target in body.Volumes or {}:
        path = _clean(target)
        # a bind or mount at the path wins, as docker (a --volumes-from mount of the
        # path is the engine's to weigh against the anonymous volume)
        if path not in seen:
            seen.add(path)
            mounts.append(MountSpec(type="volume", target=path,
                                    volume_driver=_driver(host.VolumeDriver)))
    volumes_from = tuple(parse_volumes_from(v) for v in host.VolumesFrom or ())
    return replace(spec, mounts=tuple(mounts), volumes_from=volumes_from)


# ── back to the wire, for inspect ─────────────────────────────────────────────────────


def _is_mount(m: MountSpec) -> bool:
    """Whether ``m`` came from HostConfig.Mounts (see the module's docstring)."""
    if m.type == "bind":
        return not m.create_source
    if m.type == "tmpfs":
        return bool(m.tmpfs_size or m.tmpfs_mode)
    return not m.mode and bool(m.volume_options or m.volume_labels or m.nocopy
                               or m.volume_driver)


def _bind_text(m: MountSpec) -> str:
    text = f"{m.source}:{m.target}" if m.source else m.target
    return f"{text}:{m.mode}" if m.mode else text


def _mount_doc(m: MountSpec) -> types.Mount:
    doc = types.Mount(Type=m.type, Source=m.source, Target=m.target, ReadOnly=m.read_only)
    if m.type == "bind" and (m.propagation or m.create_source):
        doc.BindOptions = types.BindOptions(Propagation=m.propagation,
                                            CreateMountpoint=m.create_source)
    elif m.type == "volume":
        doc.VolumeOptions = types.VolumeOptions(
            NoCopy=m.nocopy, Labels=dict(m.volume_labels) or None,
            DriverConfig=types.Driver(Name=m.volume_driver,
                                      Options=dict(m.volume_options) or None)
            if m.volume_driver or m.volume_options else None)
    elif m.type == "tmpfs":
        doc.TmpfsOptions = types.TmpfsOptions(SizeBytes=m.tmpfs_size, Mode=m.tmpfs_mode)
    return doc


def host_fields(spec: ContainerSpec, volume: Callable[[str], Volume] | None
                ) -> tuple[list[str] | None, list[types.Mount] | None,
                           dict[str, str] | None, list[str] | None]:
    """Inspect's HostConfig Binds, Mounts, Tmpfs and VolumesFrom (None: docker's null).
    ``volume`` looks a volume up (anonymous ones are Config.Volumes, not Binds)."""
    binds: list[str] = []
    mounts: list[types.Mount] = []
    tmpfs: dict[str, str] = {}
    for m in spec.mounts:
        if _is_mount(m):
            mounts.append(_mount_doc(m))
        elif m.type == "tmpfs":
            tmpfs[m.target] = ",".join(m.tmpfs_options)
        elif m.type == "bind" or (m.source and not _anonymous(m, volume)):
            binds.append(_bind_text(m))
    return (binds or None, mounts or None, tmpfs or None, list(spec.volumes_from) or None)


def config_volumes(spec: ContainerSpec, volume: Callable[[str], Volume] | None
                   ) -> dict[str, dict[str, object]] | None:
    """Inspect's Config.Volumes: the anonymous volumes' paths (the image's VOLUMEs too)."""
    paths: dict[str, dict[str, object]] = {m.target: {} for m in spec.mounts
             if m.type == "volume" and not _is_mount(m) and (not m.source
                                                              or _anonymous(m, volume))}
    return paths or None


def _anonymous(m: MountSpec, volume: Callable[[str], Volume] | None) -> bool:
    if volume is None or not m.source:
        return not m.source
    try:
        return volume(m.source).anonymous
    except NotFound:
        return False
