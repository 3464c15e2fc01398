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
    from collections.abc import Callable
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
    """One record as Go's ``encoding/csv`` reads it (no lazy quotes): a field is plain
    text without a quote, or quoted with "" for a quote; errors in Go's words."""
    if not text:
        raise ValueError("EOF")
    fields: list[str] = []
    i, n = 0, len(text)
    while True:
        if i < n and text[i] == '"':
            parts, i = [], i + 1
            while True:
                close = text.find('"', i)
                if close < 0:
                    raise ValueError(f"parse error on line 1, column {n + 1}: extraneous "
                                     'or missing " in quoted-field')
                parts.append(text[i:close])
                i = close + 1
                if text[i:i + 1] == '"':
                    parts.append('"')
                    i += 1
                elif i == n or text[i] == ",":
                    break
                else:  # Go names the column of the closing quote
                    raise ValueError(f"parse error on line 1, column {i}: extraneous "
                                     'or missing " in quoted-field')
            fields.append("".join(parts))
        else:
            end = text.find(",", i)
            end = n if end < 0 else end
            quote = text.find('"', i, end)
            if quote >= 0:
                raise ValueError(f"parse error on line 1, column {quote + 1}: bare \" in "
                                 "non-quoted-field")
            fields.append(text[i:end])
            i = end
        if i >= n:
            return fields
        i += 1  # the comma


class _MountDraft:
    """A ``--mount`` being read: its fields, and each option block once an option of it
    is given (``None`` until then, as docker's ``ensure*Options``)."""

    def __init__(self) -> None:
        self.type = "volume"  # docker's default
        self.source = ""
        self.target = ""
        self.read_only = False
        self.consistency = ""
        self.bind: dict[str, Any] | None = None
        self.volume: dict[str, Any] | None = None
        self.tmpfs: dict[str, Any] | None = None

    def volume_options(self) -> dict[str, Any]:
        if self.volume is None:
            self.volume = {"Labels": {}, "DriverConfig": {}}
        return self.volume

    def bind_options(self) -> dict[str, Any]:
        if self.bind is None:
            self.bind = {}
        return self.bind

    def tmpfs_options(self) -> dict[str, Any]:
        if self.tmpfs is None:
            self.tmpfs = {}
        return self.tmpfs

    def flag(self, key: str, field: str) -> None:
        """A key given without a value: only docker's booleans may be."""
        if key in ("readonly", "ro"):
            self.read_only = True
        elif key == "volume-nocopy":
            self.volume_options()["NoCopy"] = True
        elif key == "bind-nonrecursive":
            self.bind_options()["NonRecursive"] = True
        else:
            raise ValueError(f"invalid field '{field}' must be a key=value pair")

    def set(self, key: str, val: str, field: str) -> None:
        if key == "type":
            self.type = val.lower()
        elif key in ("source", "src"):
            self.source = _absolute(val)
        elif key in ("target", "dst", "destination"):
            self.target = val
        elif key in ("readonly", "ro"):
            self.read_only = _go_bool(key, val)
        elif key == "consistency":
            self.consistency = val.lower()
        elif key.startswith("bind-"):
            self._bind(key, val, field)
        elif key.startswith("volume-"):
            self._volume(key, val, field)
        elif key == "tmpfs-size":
            from berth.cli.runconfig import ram_in_bytes

            self.tmpfs_options()["SizeBytes"] = _checked(ram_in_bytes, key, val)
        elif key == "tmpfs-mode":
            self.tmpfs_options()["Mode"] = _checked(lambda v: int(v, 8), key, val)
        else:
            raise ValueError(f"unexpected key '{key}' in '{field}'")

    def _bind(self, key: str, val: str, field: str) -> None:
        if key == "bind-propagation":
            self.bind_options()["Propagation"] = val.lower()
        elif key == "bind-nonrecursive":
            self.bind_options()["NonRecursive"] = _go_bool(key, val)
        elif key == "bind-recursive":
            flag = {"enabled": "", "disabled": "NonRecursive", "writable":
                    "ReadOnlyNonRecursive", "readonly": "ReadOnlyForceRecursive"}.get(val)
            if flag is None:
                raise ValueError(f'invalid value for {key}: {val} (must be "enabled", '
                                 '"disabled", "writable", or "readonly")')
            if flag:
                self.bind_options()[flag] = True
        else:
            raise ValueError(f"unexpected key '{key}' in '{field}'")

    def _volume(self, key: str, val: str, field: str) -> None:
        opts = self.volume_options()
        if key == "volume-subpath":
            opts["Subpath"] = val
        elif key == "volume-nocopy":
            try:
                opts["NoCopy"] = _go_bool(key, val)
            except ValueError:
                raise ValueError(f"invalid value for volume-nocopy: {val}") from None
        elif key in ("volume-label", "volume-opt"):
            name, _, value = val.partition("=")
            target = (opts["Labels"] if key == "volume-label"
                      else opts["DriverConfig"].setdefault("Options", {}))
            if name:
                target[name] = value
        elif key == "volume-driver":
            opts["DriverConfig"]["Name"] = val
        else:
            raise ValueError(f"unexpected key '{key}' in '{field}'")

    def finish(self) -> Mount:
        """docker's checks once every field is read."""
        if not self.type:
            raise ValueError("type is required")
        if not self.target:
            raise ValueError("target is required")
        for options, owner in ((self.volume, "volume"), (self.bind, "bind"),
                               (self.tmpfs, "tmpfs")):
            if options is not None and self.type != owner:
                raise ValueError(f"cannot mix '{owner}-*' options with mount type "
                                 f"'{self.type}'")
        bind = self.bind or {}
        if bind.get("ReadOnlyNonRecursive") and not self.read_only:
            raise ValueError("option 'bind-recursive=writable' requires 'readonly' to be "
                             "specified in conjunction")
        if bind.get("ReadOnlyForceRecursive"):
            if not self.read_only:
                raise ValueError("option 'bind-recursive=readonly' requires 'readonly' to "
                                 "be specified in conjunction")
            if bind.get("Propagation") != "rprivate":
                raise ValueError("option 'bind-recursive=readonly' requires "
                                 "'bind-propagation=rprivate' to be specified in conjunction")
        return Mount(self.type, self.source, self.target, self.read_only, self.consistency,
                     self.bind, self.volume, self.tmpfs)


def _checked(convert: Callable[[str], int], key: str, val: str) -> int:
    try:
        return convert(val)
    except ValueError:
        raise ValueError(f"invalid value for {key}: {val}") from None


def parse_mount(text: str) -> Mount:
    """docker 28's ``MountOpt.Set``: ``type=...,source=...,target=...[,option]...``."""
    draft = _MountDraft()
    for field in _csv_fields(text):
        key, eq, val = field.partition("=")
        key = key.lower()
        if eq:
            draft.set(key, val, field)
        else:
            draft.flag(key, field)
    return draft.finish()


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
