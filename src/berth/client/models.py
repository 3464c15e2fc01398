"""The client's typed values: what the CLI sends and gets back, decoded from Docker JSON.

Docker's PascalCase stays in this package; ``from_json``/``to_json`` are the only places
that know it. Inspect documents are the exception: ``inspect`` prints the daemon's JSON as
it is, so those stay ``dict``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Port:
    private_port: int
    type: str
    public_port: int | None = None
    ip: str = ""


@dataclass(frozen=True)
class MountPoint:
    name: str
    source: str
    destination: str


@dataclass(frozen=True)
class ContainerSummary:
    """One row of ``GET /containers/json``."""

    id: str
    names: tuple[str, ...]
    image: str
    image_id: str
    command: str
    created: int
    state: str
    status: str
    ports: tuple[Port, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    mounts: tuple[MountPoint, ...] = ()
    networks: tuple[str, ...] = ()
    size_rw: int | None = None
    size_root_fs: int | None = None

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ContainerSummary:
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


@dataclass(frozen=True)
class ImageSummary:
    """One row of ``GET /images/json``."""

    id: str
    repo_tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    created: int
    size: int
    shared_size: int = -1
    containers: int = -1
    labels: dict[str, str] = field(default_factory=dict)
    parent_id: str = ""

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ImageSummary:
        return cls(
            id=doc["Id"], repo_tags=tuple(doc.get("RepoTags") or ()),
            repo_digests=tuple(doc.get("RepoDigests") or ()),
            created=int(doc.get("Created", 0)), size=int(doc.get("Size", 0)),
            shared_size=int(doc.get("SharedSize", -1)),
            containers=int(doc.get("Containers", -1)),
            labels=dict(doc.get("Labels") or {}), parent_id=doc.get("ParentId", ""))


@dataclass(frozen=True)
class ContainerSpec:
    """What ``create``/``run`` ask for: the body of ``POST /containers/create``."""

    image: str
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    env: tuple[str, ...] = ()
    working_dir: str = ""
    user: str = ""
    hostname: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    tty: bool = False
    open_stdin: bool = False
    attach_stdin: bool = False
    attach_stdout: bool = False
    attach_stderr: bool = False
    stop_signal: str = ""
    stop_timeout: int | None = None
    memory: int = 0
    nano_cpus: int = 0
    cpu_shares: int = 0
    pids_limit: int | None = None
    runtime: str = ""
    auto_remove: bool = False
    log_driver: str = ""
    log_opts: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        host: dict[str, Any] = {
            "AutoRemove": self.auto_remove, "Memory": self.memory, "NanoCpus": self.nano_cpus,
            "CpuShares": self.cpu_shares,
            "LogConfig": {"Type": self.log_driver, "Config": self.log_opts},
        }
        if self.pids_limit is not None:
            host["PidsLimit"] = self.pids_limit
        if self.runtime:
            host["Runtime"] = self.runtime
        doc: dict[str, Any] = {
            "Image": self.image, "Env": list(self.env), "WorkingDir": self.working_dir,
            "User": self.user, "Hostname": self.hostname, "Labels": self.labels,
            "Tty": self.tty, "OpenStdin": self.open_stdin,
            "StdinOnce": self.open_stdin and self.attach_stdin,
            "AttachStdin": self.attach_stdin, "AttachStdout": self.attach_stdout,
            "AttachStderr": self.attach_stderr, "HostConfig": host,
        }
        if self.cmd is not None:
            doc["Cmd"] = list(self.cmd)
        if self.entrypoint is not None:
            doc["Entrypoint"] = list(self.entrypoint)
        if self.stop_signal:
            doc["StopSignal"] = self.stop_signal
        if self.stop_timeout is not None:
            doc["StopTimeout"] = self.stop_timeout
        return doc


@dataclass(frozen=True)
class Created:
    id: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class WaitResult:
    status_code: int
    error: str = ""


@dataclass(frozen=True)
class Progress:
    """One message of a JSON-lines progress stream (``/images/create``, bootstrap)."""

    status: str = ""
    id: str = ""
    progress: str = ""
    error: str = ""
    stream: str = ""

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Progress:
        detail = doc.get("errorDetail") or {}
        error = doc.get("error") or detail.get("message") or ""
        return cls(status=doc.get("status", ""), id=doc.get("id", ""),
                   progress=doc.get("progress", ""), error=error,
                   stream=doc.get("stream", ""))


@dataclass(frozen=True)
class LogOptions:
    follow: bool = False
    timestamps: bool = False
    tail: str = "all"
    since: str = ""
    until: str = ""
    stdout: bool = True
    stderr: bool = True


@dataclass(frozen=True)
class ImportOptions:
    source: str = "-"  # "-" for the request body, or a URL the daemon fetches
    repo: str = ""
    tag: str = ""
    changes: tuple[str, ...] = ()
    message: str = ""
    platform: str = ""
