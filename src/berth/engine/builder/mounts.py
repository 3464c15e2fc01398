"""``RUN --mount=...``: the flag's value parsed into a :class:`RunMount`, with buildkit's
defaults and error messages (``frontend/dockerfile/instructions/commands_runmount.go``).

The value is one CSV record of ``key=value`` fields (``ro``, ``rw`` and ``required`` may
stand alone)::

    type=cache,target=/root/.cache[,id=x][,sharing=shared|private|locked]
               [,from=stage,source=sub][,mode=0755][,uid=0][,gid=0][,ro]
    type=bind[,source=path][,from=stage|image][,target=dir][,rw]
    type=tmpfs,target=dir[,size=64m]
    type=secret,id=x[,target=/run/secrets/x][,required][,mode=0400][,uid=][,gid=]

Values are expanded with the stage's ARGs and ENV. Where each type is served from is
:mod:`.runmounts`; a relative ``target`` is under WORKDIR (:func:`resolve_target`).
"""

from __future__ import annotations

import csv
import enum
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass

from berth import errors
from berth.engine.builder.errors import DockerfileError, parse_error

Expander = Callable[[str], str]

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
SECRETS_DIR = "/run/secrets"


class MountType(enum.Enum):
    BIND = "bind"
    CACHE = "cache"
    TMPFS = "tmpfs"
    SECRET = "secret"
    SSH = "ssh"


class Sharing(enum.Enum):
    SHARED = "shared"
    PRIVATE = "private"
    LOCKED = "locked"


@dataclass(frozen=True)
class RunMount:
    type: MountType
    target: str  # as written (relative: under WORKDIR); a secret's default filled in
    readonly: bool
    source: str = ""
    from_: str = ""
    id: str = ""  # cache id (default: the target) or secret id
    sharing: Sharing = Sharing.SHARED
    required: bool = False
    size: int = 0  # tmpfs bytes, 0: the kernel's default
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None


class _Fields:
    """The fields as buildkit accumulates them while reading the record."""

    def __init__(self) -> None:
        self.type = MountType.BIND
        self.readonly: bool | None = None  # None: the type's default
        self.values: dict[str, str] = {}
        self.required = False
        self.sharing: Sharing | None = None
        self.size = 0
        self.mode: int | None = None
        self.uid: int | None = None
        self.gid: int | None = None


def parse_mount(value: str, expand: Expander, line: int) -> RunMount:
    """One ``--mount`` value; a DockerfileError worded as buildkit's for a bad one."""
    try:
        return _parse(value, expand)
    except _Invalid as err:
        raise parse_error(str(err), line) from None


class _Invalid(Exception):
    pass


def _parse(value: str, expand: Expander) -> RunMount:
    try:
        fields = next(csv.reader([value], strict=True), [])
    except csv.Error as err:
        raise _Invalid(f"failed to parse csv mounts: {err}") from None
    f = _Fields()
    for field in fields:
        key, sep, raw = field.partition("=")
        key = key.lower()
        if not sep:
            _flag(f, key, field)
        else:
            _field(f, key, expand(raw), field)
    return _finish(f)


def _flag(f: _Fields, key: str, field: str) -> None:
    if key in ("readonly", "ro"):
        f.readonly = True
    elif key in ("readwrite", "rw"):
        f.readonly = False
    elif key == "required":
        if f.type not in (MountType.SECRET, MountType.SSH):
            raise _Invalid(f"unexpected key '{key}' for mount type '{f.type.value}'")
        f.required = True
    elif key == "type":
        raise _Invalid(f"unsupported mount type {_quote('')}")
    else:
        raise _Invalid(f"unexpected key '{key}' in '{field}'")


def _field(f: _Fields, key: str, value: str, field: str) -> None:
    if key == "type":
        try:
            f.type = MountType(value.lower())
        except ValueError:
            raise _Invalid(f"unsupported mount type {_quote(value)}") from None
    elif key in ("from", "id", "env"):
        f.values[key] = value
    elif key in ("source", "src"):
        f.values["source"] = value
    elif key in ("target", "dst", "destination"):
        f.values["target"] = value
    elif key in ("readonly", "ro"):
        f.readonly = _bool(key, value)
    elif key in ("readwrite", "rw"):
        f.readonly = not _bool(key, value)
    elif key == "required":
        if f.type not in (MountType.SECRET, MountType.SSH):
            raise _Invalid(f"unexpected key '{key}' for mount type '{f.type.value}'")
        f.required = _bool(key, value)
    elif key == "sharing":
        if f.type is not MountType.CACHE:
            raise _Invalid(f"invalid cache sharing set for {f.type.value} mount")
        try:
            f.sharing = Sharing(value.lower())
        except ValueError:
            raise _Invalid(f"unsupported sharing value {_quote(value)}") from None
    elif key == "size":
        if f.type is not MountType.TMPFS:
            raise _Invalid(f"unexpected key '{key}' for mount type '{f.type.value}'")
        f.size = parse_size(value, key)
    elif key == "mode":
        f.mode = _number(value, 8, "mode")
    elif key in ("uid", "gid"):
        setattr(f, key, _number(value, 10, key))
    else:
        raise _Invalid(f"unexpected key '{key}' in '{field}'")


def _finish(f: _Fields) -> RunMount:
    kind = f.type
    if kind not in (MountType.SECRET, MountType.SSH, MountType.CACHE):
        for name in ("mode", "uid", "gid"):
            if getattr(f, name) is not None:
                raise _Invalid(f"{name} not allowed for {_quote(kind.value)} type mounts")
    if f.sharing is not None and kind is not MountType.CACHE:
        raise _Invalid(f"invalid cache sharing set for {kind.value} mount")
    source, target = f.values.get("source", ""), f.values.get("target", "")
    ident, from_ = f.values.get("id", ""), f.values.get("from", "")
    if kind is MountType.SSH:
        raise errors.NotImplemented("RUN --mount=type=ssh is not supported by berth's builder "
                             "(there is no SSH agent forwarding)")
    if "env" in f.values:
        raise errors.NotImplemented("RUN --mount=type=secret,env= is not supported by berth's "
                             "builder; mount the secret as a file")
    if kind is MountType.SECRET:
        if from_:
            raise _Invalid("secret mount should not have a from")
        if not source and not target and not ident:
            raise _Invalid("invalid secret mount. one of source, target required")
        if source and ident:
            raise _Invalid("both source and id can't be set")
        ident = source or ident or posixpath.basename(target)
        target = target or f"{SECRETS_DIR}/{posixpath.basename(ident)}"
        source = ""
    readonly = f.readonly
    if readonly is None:  # buildkit's roAuto
        readonly = kind not in (MountType.CACHE, MountType.TMPFS)
    return RunMount(type=kind, target=target, readonly=readonly, source=source,
                    from_=from_, id=ident, sharing=f.sharing or Sharing.SHARED,
                    required=f.required, size=f.size, mode=f.mode, uid=f.uid, gid=f.gid)


def resolve_target(mount: RunMount, workdir: str, line: int) -> str:
    """The absolute, clean target: a relative one is under WORKDIR; "/" is refused."""
    target = posixpath.normpath(posixpath.join("/", workdir or "/", mount.target or "."))
    target = "/" + target.lstrip("/")
    if target == "/":
        raise DockerfileError(f"invalid mount target {_quote(target)}", line)
    return target


def describe(m: RunMount) -> str:
    """``m`` as one canonical ``--mount`` value (the fields that differ from the type's
    defaults, in a fixed order): what a RUN's history text and cache key hold."""
    fields = [f"type={m.type.value}"]
    if m.from_:
        fields.append(f"from={m.from_}")
    if m.source:
        fields.append(f"source={m.source}")
    fields.append(f"target={m.target}")
    if m.type is MountType.SECRET or (m.type is MountType.CACHE and m.id != m.target):
        fields.append(f"id={m.id}")
    if m.readonly != (m.type not in (MountType.CACHE, MountType.TMPFS)):
        fields.append("ro" if m.readonly else "rw")
    if m.type is MountType.CACHE and m.sharing is not Sharing.SHARED:
        fields.append(f"sharing={m.sharing.value}")
    if m.required:
        fields.append("required")
    if m.size:
        fields.append(f"size={m.size}")
    for name, value in (("mode", m.mode), ("uid", m.uid), ("gid", m.gid)):
        if value is not None:
            fields.append(f"{name}={value:o}" if name == "mode" else f"{name}={value}")
    return ",".join(_csv_field(f) for f in fields)


def _csv_field(field: str) -> str:
    return '"' + field.replace('"', '""') + '"' if any(c in field for c in ',"\n') else field


def parse_size(value: str, key: str = "size") -> int:
    """docker's ``units.RAMInBytes``: ``64m``, ``1.5GiB``, ``4096`` (binary units)."""
    match = _SIZE.fullmatch(value.strip())
    if not match:
        raise _Invalid(f"invalid value for {key}: {value}")
    return int(float(match[1]) * _UNITS[match[2].lower()])


def _bool(key: str, value: str) -> bool:
    """Go's ``strconv.ParseBool``."""
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise _Invalid(f"invalid value for {key}: {value}")


def _number(value: str, base: int, key: str) -> int:
    try:
        number = int(value, base)
    except ValueError:
        number = -1
    if number < 0 or number >= 1 << 32 or not value.isdigit():
        if key == "mode":
            raise _Invalid(f"invalid value {value} for mode")
        raise _Invalid(f"invalid value {value} for {key}")
    return number


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
