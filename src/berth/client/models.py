"""The client's typed values: what the CLI sends and gets back, decoded from Docker JSON.

Docker's PascalCase stays in this package; ``from_json``/``to_json`` are the only places
that know it. The documents they read are typed by ``berth.api.types.responses``, the
shapes the server writes, imported for the type checker only (start-up never loads it).
Inspect documents are the exception: ``inspect`` prints the daemon's JSON as it is, so the
client hands those on as those ``TypedDict``s.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

    from berth.api.types import responses as wire


class Value:
    """What ``@dataclass(frozen=True)`` gave these classes, without importing
    ``dataclasses`` (and ``inspect``, ``typing``) at start-up: each subclass lists its
    fields in ``__slots__`` and sets them once in ``__init__``; a second assignment raises,
    and equality, hashing and ``repr`` go by the fields. ``Final`` tells mypy the same."""

    __slots__: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: object) -> None:
        if hasattr(self, name):
            raise AttributeError(f"cannot assign to field {name!r} of an immutable "
                                 f"{type(self).__name__}")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of an immutable "
                             f"{type(self).__name__}")

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Value)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


class Port(Value):
    __slots__ = ("ip", "private_port", "public_port", "type")
    private_port: Final[int]
    type: Final[str]
    public_port: Final[int | None]
    ip: Final[str]

    def __init__(self, private_port: int, type: str, public_port: int | None = None,
                 ip: str = "") -> None:
        self.private_port = private_port
        self.type = type
        self.public_port = public_port
        self.ip = ip


class MountPoint(Value):
    __slots__ = ("destination", "name", "source")
    name: Final[str]
    source: Final[str]
    destination: Final[str]

    def __init__(self, name: str, source: str, destination: str) -> None:
        self.name = name
        self.source = source
        self.destination = destination


class ContainerSummary(Value):
    """One row of ``GET /containers/json``."""

    __slots__ = (
        "command",
        "created",
        "id",
        "image",
        "image_id",
        "labels",
        "mounts",
        "names",
        "networks",
        "ports",
        "size_root_fs",
        "size_rw",
        "state",
        "status",
    )
    id: Final[str]
    names: Final[tuple[str, ...]]
    image: Final[str]
    image_id: Final[str]
    command: Final[str]
    created: Final[int]
    state: Final[str]
    status: Final[str]
    ports: Final[tuple[Port, ...]]
    labels: Final[dict[str, str]]
    mounts: Final[tuple[MountPoint, ...]]
    networks: Final[tuple[str, ...]]
    size_rw: Final[int | None]
    size_root_fs: Final[int | None]

    def __init__(self, id: str, names: tuple[str, ...], image: str, image_id: str,
                 command: str, created: int, state: str, status: str,
                 ports: tuple[Port, ...] = (), labels: dict[str, str] | None = None,
                 mounts: tuple[MountPoint, ...] = (), networks: tuple[str, ...] = (),
                 size_rw: int | None = None, size_root_fs: int | None = None) -> None:
        self.id = id
        self.names = names
        self.image = image
        self.image_id = image_id
        self.command = command
        self.created = created
        self.state = state
        self.status = status
        self.ports = ports
        self.labels = {} if labels is None else labels
        self.mounts = mounts
        self.networks = networks
        self.size_rw = size_rw
        self.size_root_fs = size_root_fs

    @classmethod
    def from_json(cls, doc: wire.ContainerSummary) -> ContainerSummary:
        nets = (doc.get("NetworkSettings") or {}).get("Networks") or {}
        return cls(
            id=doc["Id"], names=tuple(doc.get("Names") or ()), image=doc.get("Image", ""),
            image_id=doc.get("ImageID", ""), command=doc.get("Command", ""),
            created=int(doc.get("Created", 0)), state=doc.get("State", ""),
            status=doc.get("Status", ""),
            ports=tuple(Port(p.get("PrivatePort", 0), p.get("Type", "tcp"),
                             p.get("PublicPort"), p.get("IP", ""))
                        for p in doc.get("Ports") or ()),
            labels=dict(doc.get("Labels") or {}),
            mounts=tuple(MountPoint(m.get("Name", ""), m.get("Source", ""),
                                    m.get("Destination", ""))
                         for m in doc.get("Mounts") or ()),
            networks=tuple(sorted(nets)),
            size_rw=doc.get("SizeRw"), size_root_fs=doc.get("SizeRootFs"))


class ImageSummary(Value):
    """One row of ``GET /images/json``."""

    __slots__ = (
        "containers",
        "created",
        "id",
        "labels",
        "parent_id",
        "repo_digests",
        "repo_tags",
        "shared_size",
        "size",
    )
    id: Final[str]
    repo_tags: Final[tuple[str, ...]]
    repo_digests: Final[tuple[str, ...]]
    created: Final[int]
    size: Final[int]
    shared_size: Final[int]
    containers: Final[int]
    labels: Final[dict[str, str]]
    parent_id: Final[str]

    def __init__(self, id: str, repo_tags: tuple[str, ...], repo_digests: tuple[str, ...],
                 created: int, size: int, shared_size: int = -1, containers: int = -1,
                 labels: dict[str, str] | None = None, parent_id: str = "") -> None:
        self.id = id
        self.repo_tags = repo_tags
        self.repo_digests = repo_digests
        self.created = created
        self.size = size
        self.shared_size = shared_size
        self.containers = containers
        self.labels = {} if labels is None else labels
        self.parent_id = parent_id

    @classmethod
    def from_json(cls, doc: wire.ImageSummary) -> ImageSummary:
        return cls(
            id=doc["Id"], repo_tags=tuple(doc.get("RepoTags") or ()),
            repo_digests=tuple(doc.get("RepoDigests") or ()),
            created=int(doc.get("Created", 0)), size=int(doc.get("Size", 0)),
            shared_size=int(doc.get("SharedSize", -1)),
            containers=int(doc.get("Containers", -1)),
            labels=dict(doc.get("Labels") or {}), parent_id=doc.get("ParentId", ""))


class Created(Value):
    __slots__ = ("id", "warnings")
    id: Final[str]
    warnings: Final[tuple[str, ...]]

    def __init__(self, id: str, warnings: tuple[str, ...] = ()) -> None:
        self.id = id
        self.warnings = warnings

    @classmethod
    def from_json(cls, doc: wire.ContainerCreateResponse) -> Created:
        return cls(doc["Id"], tuple(doc.get("Warnings") or ()))


class WaitResult(Value):
    __slots__ = ("error", "status_code")
    status_code: Final[int]
    error: Final[str]

    def __init__(self, status_code: int, error: str = "") -> None:
        self.status_code = status_code
        self.error = error

    @classmethod
    def from_json(cls, doc: wire.ContainerWaitResponse) -> WaitResult:
        error = doc.get("Error")
        return cls(int(doc.get("StatusCode", 0)), error.get("Message") or "" if error else "")


class ProgressDetail(Value):
    """A message's ``progressDetail`` (jsonmessage's ``JSONProgress``): what a terminal
    draws its bar from."""

    __slots__ = ("current", "hide_counts", "start", "total", "units")
    current: Final[int]
    total: Final[int]
    start: Final[int]  # unix seconds the transfer began, 0 if unknown
    units: Final[str]  # "" for bytes
    hide_counts: Final[bool]

    def __init__(self, current: int = 0, total: int = 0, start: int = 0, units: str = "",
                 hide_counts: bool = False) -> None:
        self.current = current
        self.total = total
        self.start = start
        self.units = units
        self.hide_counts = hide_counts

    @classmethod
    def from_json(cls, doc: object) -> ProgressDetail | None:
        if not isinstance(doc, dict):
            return None

        def number(key: str) -> int:
            value = doc.get(key)
            return value if isinstance(value, int) else 0

        return cls(number("current"), number("total"), number("start"),
                   str(doc.get("units") or ""), bool(doc.get("hidecounts")))


class Progress(Value):
    """One message of a JSON-lines progress stream (docker's ``JSONMessage``):
    ``/images/create``, push, load, bootstrap and ``/build``."""

    __slots__ = ("aux", "aux_id", "code", "detail", "error", "id", "progress", "status",
                 "stream")
    status: Final[str]
    id: Final[str]
    progress: Final[str]
    error: Final[str]
    stream: Final[str]
    detail: Final[ProgressDetail | None]  # None: the message had no progressDetail
    aux: Final[bool]  # an aux message (a push's digest, a build's image ID), never printed
    code: Final[int]  # the error's code (a build's failed RUN's exit status), 0 if none
    aux_id: Final[str]  # the ``ID`` of an aux message: the image a build made

    def __init__(self, status: str = "", id: str = "", progress: str = "", error: str = "",
                 stream: str = "", detail: ProgressDetail | None = None,
                 aux: bool = False, code: int = 0, aux_id: str = "") -> None:
        self.status = status
        self.id = id
        self.progress = progress
        self.error = error
        self.stream = stream
        self.detail = detail
        self.aux = aux
        self.code = code
        self.aux_id = aux_id

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Progress:
        detail = doc.get("errorDetail")
        if not isinstance(detail, dict):
            detail = {}
        aux = doc.get("aux")
        code = detail.get("code")
        return cls(status=str(doc.get("status") or ""), id=str(doc.get("id") or ""),
                   progress=str(doc.get("progress") or ""),
                   error=str(doc.get("error") or detail.get("message") or ""),
                   stream=str(doc.get("stream") or ""),
                   detail=ProgressDetail.from_json(doc.get("progressDetail")),
                   aux=aux is not None, code=code if isinstance(code, int) else 0,
                   aux_id=str(aux.get("ID") or "") if isinstance(aux, dict) else "")


class LogOptions(Value):
    __slots__ = ("follow", "since", "stderr", "stdout", "tail", "timestamps", "until")
    follow: Final[bool]
    timestamps: Final[bool]
    tail: Final[str]
    since: Final[str]
    until: Final[str]
    stdout: Final[bool]
    stderr: Final[bool]

    def __init__(self, follow: bool = False, timestamps: bool = False, tail: str = "all",
                 since: str = "", until: str = "", stdout: bool = True,
                 stderr: bool = True) -> None:
        self.follow = follow
        self.timestamps = timestamps
        self.tail = tail
        self.since = since
        self.until = until
        self.stdout = stdout
        self.stderr = stderr


class ImportOptions(Value):
    __slots__ = ("changes", "message", "platform", "repo", "source", "tag")
    source: Final[str]  # "-" for the request body, or a URL the daemon fetches
    repo: Final[str]
    tag: Final[str]
    changes: Final[tuple[str, ...]]
    message: Final[str]
    platform: Final[str]

    def __init__(self, source: str = "-", repo: str = "", tag: str = "",
                 changes: tuple[str, ...] = (), message: str = "", platform: str = "") -> None:
        self.source = source
        self.repo = repo
        self.tag = tag
        self.changes = changes
        self.message = message
        self.platform = platform
