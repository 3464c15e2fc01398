"""``run``/``create``'s storage flags, parsed as docker 28's CLI parses them (issue 12).

``--mount`` is checked as its value is read (docker's ``opts.MountOpt.Set``), so a bad one
fails as a flag error: ``invalid argument "type=bind,foo=1" for "--mount" flag: unexpected
key 'foo' in 'foo=1'``. ``-v`` is split by docker's ``volumespec.Parse`` when the request
is built: a spec with a source (a host path or a volume name) is a bind string for the
daemon, a bare target an anonymous volume; a malformed one fails as ``berth: invalid spec:
...``. Whether a source exists or a name is valid is the daemon's judgement.
"""

from __future__ import annotations

import os

from berth.cli.flags import Flag, UsageError
from berth.client.storage import ContainerStorage, Mount

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.flags import Options

_PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
_TRUE = {"1", "t", "T", "true", "TRUE", "True"}
_FALSE = {"0", "f", "F", "false", "FALSE", "False"}


def _go_bool(key: str, text: str) -> bool:
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"invalid value for {key}: {text}")


def _absolute(source: str) -> str:
    """docker makes a relative source that starts with "." absolute (``./data``)."""
    if not source.startswith("/") and source.startswith("."):
        return os.path.abspath(source)
    return source


def _csv_fields(text: str) -> list[str]:
    import csv  # only --mount pays for it

    try:
        return next(csv.reader([text], strict=True), [])
    except csv.Error as err:
        raise ValueError(str(err)) from None


def parse_mount(text: str) -> Mount:
    """docker 28's ``MountOpt.Set``: ``type=...,source=...,target=...[,option]...``."""
    fields: dict[str, Any] = {"type": "volume", "source": "", "target": "",
                              "read_only": False, "consistency": ""}
    bind: dict[str, Any] | None = None
    volume: dict[str, Any] | None = None
    tmpfs: dict[str, Any] | None = None

    def volume_options() -> dict[str, Any]:
        nonlocal volume
        if volume is None:
            volume = {"Labels": {}, "DriverConfig": {}}
        return volume

    def bind_options() -> dict[str, Any]:
        nonlocal bind
        if bind is None:
            bind = {}
        return bind

    def tmpfs_options() -> dict[str, Any]:
        nonlocal tmpfs
        if tmpfs is None:
            tmpfs = {}
        return tmpfs

    for field in _csv_fields(text):
        key, eq, val = field.partition("=")
        key = key.lower()
        if not eq:
            if key in ("readonly", "ro"):
                fields["read_only"] = True
            elif key == "volume-nocopy":
                volume_options()["NoCopy"] = True
            elif key == "bind-nonrecursive":
                bind_options()["NonRecursive"] = True
            else:
                raise ValueError(f"invalid field '{field}' must be a key=value pair")
            continue
        if key == "type":
            fields["type"] = val.lower()
        elif key in ("source", "src"):
            fields["source"] = _absolute(val)
        elif key in ("target", "dst", "destination"):
            fields["target"] = val
        elif key in ("readonly", "ro"):
            fields["read_only"] = _go_bool(key, val)
        elif key == "consistency":
            fields["consistency"] = val.lower()
        elif key == "bind-propagation":
            bind_options()["Propagation"] = val.lower()
        elif key == "bind-nonrecursive":
            bind_options()["NonRecursive"] = _go_bool(key, val)
        elif key == "bind-recursive":
            flag = {"enabled": "", "disabled": "NonRecursive", "writable":
                    "ReadOnlyNonRecursive", "readonly": "ReadOnlyForceRecursive"}.get(val)
            if flag is None:
                raise ValueError(f'invalid value for {key}: {val} (must be "enabled", '
                                 '"disabled", "writable", or "readonly")')
            if flag:
                bind_options()[flag] = True
        elif key == "volume-subpath":
            volume_options()["Subpath"] = val
        elif key == "volume-nocopy":
            try:
                volume_options()["NoCopy"] = _go_bool(key, val)
            except ValueError:
                raise ValueError(f"invalid value for volume-nocopy: {val}") from None
        elif key in ("volume-label", "volume-opt"):
            name, _, value = val.partition("=")
            opts = volume_options()
            target = (opts["Labels"] if key == "volume-label"
                      else opts["DriverConfig"].setdefault("Options", {}))
            if name:
                target[name] = value
        elif key == "volume-driver":
            volume_options()["DriverConfig"]["Name"] = val
        elif key == "tmpfs-size":
            from berth.cli.runconfig import ram_in_bytes

            try:
                tmpfs_options()["SizeBytes"] = ram_in_bytes(val)
            except ValueError:
                raise ValueError(f"invalid value for {key}: {val}") from None
        elif key == "tmpfs-mode":
            try:
                tmpfs_options()["Mode"] = int(val, 8)
            except ValueError:
                raise ValueError(f"invalid value for {key}: {val}") from None
        else:
            raise ValueError(f"unexpected key '{key}' in '{field}'")

    kind = fields["type"]
    if not kind:
        raise ValueError("type is required")
    if not fields["target"]:
        raise ValueError("target is required")
    for options, owner in ((volume, "volume"), (bind, "bind"), (tmpfs, "tmpfs")):
        if options is not None and kind != owner:
            raise ValueError(f"cannot mix '{owner}-*' options with mount type '{kind}'")
    if bind is not None:
        if bind.get("ReadOnlyNonRecursive") and not fields["read_only"]:
            raise ValueError("option 'bind-recursive=writable' requires 'readonly' to be "
                             "specified in conjunction")
        if bind.get("ReadOnlyForceRecursive"):
            if not fields["read_only"]:
                raise ValueError("option 'bind-recursive=readonly' requires 'readonly' to "
                                 "be specified in conjunction")
            if bind.get("Propagation") != "rprivate":
                raise ValueError("option 'bind-recursive=readonly' requires "
                                 "'bind-propagation=rprivate' to be specified in conjunction")
    return Mount(fields["type"], fields["source"], fields["target"], fields["read_only"],
                 fields["consistency"], bind, volume, tmpfs)


class VolumeSpec:
    """docker's ``volumespec.Parse`` result: what ``-v`` names."""

    __slots__ = ("mode", "source", "target")

    def __init__(self, source: str, target: str, mode: str) -> None:
        self.source = source
        self.target = target
        self.mode = mode

    @property
    def is_bind(self) -> bool:
        """docker's ``isFilePath``: ".", "/" or "~" first, or a Windows drive ("c:")."""
        source = self.source
        return bool(source) and (source[0] in "./~" or (
            len(source) > 1 and source[1] == ":" and source[0].isalpha()))


def parse_volume_spec(spec: str) -> VolumeSpec:
    """``[SOURCE:]TARGET[:MODE]``, scanned left to right as docker's parser does (a
    letter and a colon at the start of a section is a Windows drive, kept in the
    section); an empty section or a fourth one is refused with docker's words."""
    if not spec:
        raise UsageError("invalid empty volume spec")
    if len(spec) <= 2:
        return VolumeSpec("", spec, "")
    fields: list[str] = []
    buffer = ""
    for i, char in enumerate(spec + "\0"):
        end = i == len(spec)
        if char == ":" and len(buffer) == 1 and buffer.isalpha():
            buffer += char
        elif char == ":" or end:
            if not buffer:
                raise UsageError(f"invalid spec: {spec}: empty section between colons")
            if len(fields) == 2 and not end:
                raise UsageError(f"invalid spec: {spec}: too many colons")
            fields.append(buffer)
            buffer = ""
        else:
            buffer += char
    if len(fields) == 1:
        return VolumeSpec("", fields[0], "")
    return VolumeSpec(fields[0], fields[1], fields[2] if len(fields) == 3 else "")


STORAGE_FLAGS: tuple[Flag, ...] = (
    Flag("mount", kind="list", convert=parse_mount, metavar="mount",
         help="Attach a filesystem mount to the container"),
    Flag("read-only", kind="bool", help="Mount the container's root filesystem as read only"),
    Flag("tmpfs", kind="list", help="Mount a tmpfs directory"),
    Flag("volume", "v", "list", help="Bind mount a volume"),
    Flag("volume-driver", kind="str", default="",
         help="Optional volume driver for the container"),
    Flag("volumes-from", kind="list", help="Mount volumes from the specified container(s)"),
)


def storage_config(opts: Options) -> ContainerStorage:
    """The filesystem half of the create request, from the parsed flags (docker's
    ``parse``: binds leave the volume map, so they are never committed to an image)."""
    binds: list[str] = []
    anonymous: list[str] = []
    for spec in dict.fromkeys(opts.volume):  # docker's ListOpts.GetMap: duplicates once
        parsed = parse_volume_spec(spec)
        if not parsed.source:
            anonymous.append(spec)
        elif parsed.is_bind:
            host, _, rest = spec.partition(":")
            binds.append(f"{_absolute(host)}:{rest}")
        else:
            binds.append(spec)
    tmpfs: dict[str, str] = {}
    for entry in opts.tmpfs:
        target, _, options = entry.partition(":")
        tmpfs[target] = options
    return ContainerStorage(binds=tuple(binds), volumes=tuple(anonymous),
                            mounts=tuple(opts.mount), tmpfs=tuple(tmpfs.items()),
                            volumes_from=tuple(opts.volumes_from), read_only=opts.read_only,
                            volume_driver=opts.volume_driver)
