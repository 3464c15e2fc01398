"""What the routes need from the engine: one narrow Protocol per role (moby's
``router/<x>/backend.go``).

Each router holds backends, never the engine's concrete services, and each backend lists
only the methods its routes call, in the engine's own values (``ContainerSpec`` in,
``Container`` out; no aiohttp type, no JSON dict). The services satisfy them structurally:
``daemon.py`` hands the real ones in (mypy checks the fit there); unit tests hand in the
in-memory fakes of ``tests/unit/api/server/fakes.py``, which pass the same conformance
suite as the real ``ContainerService``::

    router (api/server)     backend (this module)    engine service (daemon.py wiring)
    ─────────────────────   ──────────────────────   ─────────────────────────────────
    ContainerRoutes ──────▶ ContainerBackend ──────▶ containers.service.ContainerService
                    ├─────▶ ContainerAdminBackend ─▶ containers.admin.ContainerAdmin
                    └─────▶ ExecBackend (ids_for)
    ExecRoutes ───────────▶ ExecBackend ───────────▶ containers.execs.ExecService
    ImageRoutes,          ▶ ImageBackend ──────────▶ images.service.ImageService
    ImageArchiveRoutes ───▶ ContainerBackend (image_users)
    BuildRoutes ──────────▶ BuildBackend ──────────▶ builder.builder.Builder
    NetworkRoutes ────────▶ NetworkBackend ────────▶ networks.service.NetworkService
    ContainerRoutes ──────▶ NetworkBackend (container_network: NetworkSettings)
    VolumeRoutes ─────────▶ VolumeBackend ─────────▶ volumes.service.VolumeService
    ContainerRoutes ──────▶ VolumeBackend (mount_points, get: Mounts, Config.Volumes)
    SystemRoutes ─────────▶ VolumeBackend (list, usage: system df's Volumes)
    SystemRoutes ─────────▶ SystemBackend ─────────▶ events.EventBus
                    └─────▶ SystemInfoBackend ─────▶ system.SystemService
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Protocol

from berth.engine.builder.options import BuildOptions, BuildOutput, BuildResult
from berth.engine.builder.prune import CachePruneOptions, CachePruneReport
from berth.engine.containers.admin import PruneFilters, PruneReport
from berth.engine.containers.archive import ExtractOptions, PathStat
from berth.engine.containers.changes import Change
from berth.engine.containers.commit import CommitOptions
from berth.engine.containers.execs import Exec, ExecSpec
from berth.engine.containers.model import Container, ContainerSpec, EndpointConfig
from berth.engine.containers.top import ProcessTable
from berth.engine.containers.update import ResourceUpdate
from berth.engine.containers.waiters import AttachRequest, Streams
from berth.engine.events import Event, EventFilter
from berth.engine.images import prune as image_prune
from berth.engine.images.delete import Users
from berth.engine.images.filters import ImageFilters
from berth.engine.images.history import HistoryItem
from berth.engine.images.image import Image
from berth.engine.images.load import LoadCallback
from berth.engine.images.pull import PullCallback
from berth.engine.images.push import PushCallback, PushedTag
from berth.engine.images.recipe import BootstrapProgress
from berth.engine.images.registries import AuthConfig, RegistryOptions
from berth.engine.images.service import PullResult
from berth.engine.networks.model import (
    ContainerNetwork,
    Endpoint,
    Network,
    NetworkCreate,
    NetworkPruneReport,
)
from berth.engine.system import DiskUsage, Info
from berth.engine.volumes.model import (
    MountPoint,
    Volume,
    VolumeCreate,
    VolumePruneReport,
    VolumeUsage,
)


class ContainerBackend(Protocol):
    """A container's life: create, start, signal, wait, attach, remove. A reference is
    what docker accepts (id, unique id prefix, name); an unknown one is NotFound, a
    name in use or a running container removed without force is Conflict, a start of a
    running or a stop of a stopped container is NotModified."""

    async def create(self, name: str | None, spec: ContainerSpec) -> Container: ...

    def get(self, ref: str) -> Container: ...

    async def update(self, ref: str, change: ResourceUpdate) -> None:
        """``docker update``: Conflict as docker's UpdateContainer refuses a change."""
        ...

    def list(self) -> builtins.list[Container]:
        """Every container, newest first."""
        ...

    def image_users(self, image_id: str) -> builtins.list[tuple[str, bool]]:
        """(container id, running) of each container made from ``image_id``."""
        ...

    async def start(self, ref: str) -> None: ...

    async def stop(self, ref: str, timeout: int | None = None, sig: str = "") -> None: ...

    async def kill(self, ref: str, sig: str = "SIGKILL") -> None: ...

    async def restart(self, ref: str, timeout: int | None = None, sig: str = "") -> None:
        """Stop it if it runs (``timeout`` and ``sig`` as for ``stop``), then start it:
        one operation, which no other start, stop or removal of it interleaves."""
        ...

    def waiter(self, ref: str, condition: str = "not-running") -> asyncio.Future[int]:
        """The exit code to come, registered now so that no exit is missed between this
        call and the await (docker's CLI waits before it starts)."""
        ...

    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        """``volumes``: the container's anonymous volumes go too (``rm -v``)."""
        ...

    async def attach(self, ref: str, req: AttachRequest) -> Streams: ...

    async def resize(self, ref: str, height: int, width: int) -> None: ...

    async def pause(self, ref: str) -> None: ...

    async def unpause(self, ref: str) -> None: ...

    def publish(self, c: Container, action: str, **extra: str) -> None:
        """A container event (attach's ``detach`` is known only to the route)."""
        ...


class ContainerAdminBackend(Protocol):
    """Containers outside their life cycle: rename, top, export, prune, sizes."""

    async def rename(self, ref: str, new_name: str) -> None: ...

    async def top(self, ref: str, ps_args: str) -> ProcessTable: ...

    async def export(self, ref: str) -> AsyncGenerator[bytes, None]: ...

    async def prune(self, filters: PruneFilters) -> PruneReport: ...

    async def sizes(self, ref: str) -> tuple[int, int]:
        """(SizeRw, SizeRootFs): the writable layer, and that plus the image."""
        ...


class ExecBackend(Protocol):
    """Execs: records in memory for one run of a running container."""

    async def create(self, ref: str, spec: ExecSpec) -> Exec: ...

    def get(self, exec_id: str) -> Exec: ...

    def ids_for(self, container_id: str) -> builtins.list[str]: ...

    def check_startable(self, rec: Exec) -> None:
        """Conflict when ``rec`` has run or is running."""
        ...

    async def start(self, exec_id: str, attach: bool,
                    console_size: tuple[int, int] | None = None) -> Streams | None: ...

    async def exited(self, exec_id: str) -> int: ...

    def detached(self, exec_id: str) -> None: ...

    async def resize(self, exec_id: str, height: int, width: int) -> None: ...


class ImageBackend(Protocol):
    """Images: the local store, registries, archives and Berth's bootstrap."""

    @property
    def registries(self) -> RegistryOptions: ...

    async def get(self, ref_or_id: str) -> Image: ...

    async def list(self, all: bool = False, filters: ImageFilters | None = None
                   ) -> builtins.list[Image]: ...

    async def tag(self, source: str, repo: str, tag: str) -> None: ...

    async def remove(self, ref: str, force: bool, users: Callable[[str], Users],
                     prune: bool = True) -> builtins.list[tuple[str, str]]: ...

    async def import_image(self, tar: AsyncIterator[bytes], repo_tag: str | None,
                           changes: builtins.list[str], message: str) -> Image: ...

    async def bootstrap(self, name: str, mirror: str = "",
                        progress: BootstrapProgress | None = None) -> Image: ...

    async def pull(self, name: str, progress: PullCallback | None = None,
                   auth: AuthConfig | None = None, platform: str = "") -> PullResult: ...

    async def registry_tags(self, name: str, auth: AuthConfig | None = None
                            ) -> builtins.list[str]: ...

    async def push(self, name: str, tag: str = "", progress: PushCallback | None = None,
                   auth: AuthConfig | None = None) -> builtins.list[PushedTag]: ...

    async def login(self, auth: AuthConfig) -> None: ...

    async def save(self, names: builtins.list[str]) -> AsyncGenerator[bytes, None]: ...

    async def load(self, body: AsyncIterator[bytes], emit: LoadCallback) -> None: ...

    async def history(self, name: str) -> builtins.list[HistoryItem]: ...

    async def prune(self, filters: image_prune.PruneFilters, users: Callable[[str], Users]
                    ) -> image_prune.PruneReport: ...


class ContextMatcher(Protocol):
    def match(self, key: str, files: builtins.list[tuple[str, int, str]]
              ) -> tuple[str, builtins.list[int]]:
        """The newest kept context of ``key`` and the indices of ``files`` it holds
        unchanged; ``("", [])`` when there is none."""
        ...


class BuildBackend(Protocol):
    """The Dockerfile builder and the contexts it keeps between builds."""

    @property
    def contexts(self) -> ContextMatcher: ...

    async def build(self, body: AsyncIterator[bytes], options: BuildOptions,
                    output: BuildOutput) -> BuildResult: ...

    async def prune(self, options: CachePruneOptions) -> CachePruneReport: ...


class SystemInfoBackend(Protocol):
    """``/info`` and ``/system/df``: facts gathered by ``engine.system.SystemService``."""

    async def info(self) -> Info: ...

    async def disk_usage(self) -> DiskUsage: ...


class SystemBackend(Protocol):
    """The event stream (moby's ``SubscribeToEvents``)."""

    def subscribe(self, since_nano: int | None = None, until_nano: int | None = None,
                  flt: EventFilter | None = None) -> AsyncIterator[Event]: ...


class NetworkBackend(Protocol):
    """Networks and containers' endpoints on them (moby's network router backend). A
    network reference is a name, a full id or a unique id prefix (NotFound otherwise:
    ``network NAME not found``)."""

    async def create(self, req: NetworkCreate) -> Network:
        """Conflict for a name in use, a subnet overlapping another network's or the
        host's routes is Forbidden (docker: "Pool overlaps with other one on this address
        space"); InvalidArgument for a bad subnet/gateway or an unsupported driver."""
        ...

    def get(self, ref: str) -> Network: ...

    def list(self) -> builtins.list[Network]: ...

    def attached(self, network_id: str) -> builtins.list[tuple[str, Endpoint]]:
        """(container id, its endpoint) of each container on the network (running or
        not), for inspect's Containers."""
        ...

    async def remove(self, ref: str) -> None:
        """Forbidden for a predefined network; Conflict while containers are attached
        (docker: "error while removing network: network NAME id ID has active
        endpoints")."""
        ...

    async def prune(self, labels: builtins.list[str], until: float | None
                    ) -> NetworkPruneReport: ...

    async def connect(self, ref: str, container: str, config: EndpointConfig) -> None:
        """Join a container (running or not) to a network; a running one gets its
        interface at once."""
        ...

    async def disconnect(self, ref: str, container: str, force: bool = False) -> None: ...

    def container_network(self, container: Container) -> ContainerNetwork:
        """The container's NetworkSettings (inspect, ps)."""
        ...


class VolumeBackend(Protocol):
    """Volumes (moby's volume router backend) and what containers mount
    (docs/design/volumes.md). A volume is referenced by its name; an unknown one is
    NotFound (docker: ``get NAME: no such volume``)."""

    async def create(self, req: VolumeCreate) -> Volume:
        """An existing name returns that volume (docker's create is idempotent) unless the
        driver differs (Conflict); InvalidArgument for a name outside
        ``[a-zA-Z0-9][a-zA-Z0-9_.-]+`` or bad driver options."""
        ...

    def get(self, name: str) -> Volume: ...

    def list(self) -> builtins.list[Volume]: ...

    def usage(self, name: str) -> VolumeUsage: ...

    async def remove(self, name: str, force: bool = False) -> None:
        """Conflict while a container uses it (docker: ``remove NAME: volume is in use -
        [ID, ...]``); ``force`` ignores a missing volume, never one in use."""
        ...

    async def prune(self, labels: builtins.list[str], all_volumes: bool
                    ) -> VolumePruneReport:
        """Unused volumes matching the label filters; anonymous ones only unless
        ``all_volumes`` (docker 23+'s ``all=true``)."""
        ...

    def mount_points(self, container: Container) -> builtins.list[MountPoint]:
        """Inspect's ``Mounts`` of the container, in docker's shape."""
        ...


class ContainerFsBackend(Protocol):
    """``docker cp``: a path in a container, running or not
    (``engine/containers/archive.py``'s ``ContainerArchive``)."""

    async def stat(self, ref: str, path: str) -> PathStat: ...

    async def get(self, ref: str, path: str
                  ) -> tuple[PathStat, AsyncGenerator[bytes, None]]: ...

    async def put(self, ref: str, path: str, body: AsyncIterator[bytes],
                  options: ExtractOptions) -> None: ...


class ContainerChangesBackend(Protocol):
    """``docker diff`` (``engine/containers/changes.py``'s ``ContainerChanges``)."""

    async def changes(self, ref: str) -> builtins.list[Change]: ...


class ContainerCommitBackend(Protocol):
    """``docker commit`` (``engine/containers/commit.py``'s ``ContainerCommitter``):
    the new image's id."""

    async def commit(self, ref: str, options: CommitOptions) -> str: ...
