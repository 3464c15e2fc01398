"""In-memory fakes of the API's backends (``berth.api.server.backend``), for route tests.

``FakeContainerBackend`` and ``FakeExecBackend`` pass the same conformance suite as the
real ``ContainerService``/``ExecService`` (``backend_suite.py``): same lifecycle, same
errors (NotFound, Conflict, NotModified, InvalidArgument) with the same messages. They
validate a create with the engine's own helpers (names, signals, restart, logs, health,
process) so a record looks as the real service makes it. ``FakeImageBackend`` passes the
real ``ImageService``'s (``image_backend_suite.py``); it keeps tags as the real store does
and removes and prunes with the engine's own rules (``ImageDeleter``, ``ImagePruner``).

No process runs. A command ``sh -c "exit N"`` (or ``true``) exits with N as soon as it has
started, on the next turn of the loop; any other command runs until it is killed and, as a
PID 1 with no signal handlers does, ignores every signal but SIGKILL: a stop ends in
SIGKILL (exit 137) after its grace period, which the fake does not wait out. Restart
policies are recorded and never acted on; attach and an attached exec start are
NotImplemented.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import re
import secrets
import signal
from collections import defaultdict
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

from berth import errors
from berth.daemon import RUNTIMES
from berth.engine import clock
from berth.engine.containers import names, process, record, signals, update
from berth.engine.containers.admin import PruneFilters, PruneReport
from berth.engine.containers.execs import Exec, ExecSpec, check_creatable
from berth.engine.containers.model import Container, ContainerSpec, Status
from berth.engine.containers.top import ProcessTable
from berth.engine.containers.update import ResourceUpdate
from berth.engine.containers.waiters import AttachRequest, Streams
from berth.engine.events import Event, EventBus
from berth.engine.images import prune as image_prune
from berth.engine.images.delete import DeleteRequest, ImageDeleter, Users
from berth.engine.images.filters import ImageFilters, select
from berth.engine.images.history import HistoryItem, history
from berth.engine.images.image import Image, resolve
from berth.engine.images.load import LoadCallback
from berth.engine.images.pull import PullCallback
from berth.engine.images.push import PushCallback, PushedTag
from berth.engine.images.recipe import BootstrapProgress
from berth.engine.images.registries import AuthConfig, RegistryOptions
from berth.engine.images.service import PullResult
from berth.errors import Conflict, InvalidArgument, NotFound, NotModified
from berth.oci import reference
from berth.runtime import NATIVE
from berth.store.metadata.images import ImageRecord

KILLED = 128 + signal.SIGKILL
_EXIT = re.compile(r"exit (\d+)")


def exit_code(argv: tuple[str, ...]) -> int | None:
    """The code a fake process exits with by itself; None: it runs until killed."""
    if argv == ("true",):
        return 0
    if len(argv) == 3 and argv[:2] == ("sh", "-c"):
        match = _EXIT.fullmatch(argv[2])
        if match:
            return int(match[1]) % 256
    return None


class _ImageTable:
    """The fake's store: images by id and a tag table of full references, as
    ``ImageStore`` keeps them, with the methods of it that the engine's rmi and prune rules
    (``ImageDeleter``, ``ImagePruner``) call: the fake removes as the real service does."""

    def __init__(self) -> None:
        self.images: dict[str, Image] = {}  # their repo_tags are empty: the table says
        self.tags: dict[str, str] = {}  # "docker.io/library/busybox:latest" -> image id

    def get_image(self, image_id: str) -> ImageRecord | None:
        image = self.images.get(image_id)
        if image is None:
            return None
        return ImageRecord(id=image.id, config_digest=image.id, manifest_digest=None,
                           created=image.created, size=image.size, parent=image.parent)

    def find_images(self, id_prefix: str) -> builtins.list[ImageRecord]:
        return [r for i in self.images if i.startswith(id_prefix)
                for r in [self.get_image(i)] if r is not None]

    def list_images(self) -> builtins.list[ImageRecord]:
        """Newest first, as the real store's ``ORDER BY created DESC``."""
        records = [r for i in self.images for r in [self.get_image(i)] if r is not None]
        return sorted(records, key=lambda r: r.created, reverse=True)

    def children(self, image_id: str) -> builtins.list[str]:
        return [i.id for i in self.images.values() if i.parent == image_id]

    def delete_image(self, image_id: str) -> None:
        for name in self.tags_of(image_id):
            del self.tags[name]
        del self.images[image_id]

    def set_tag(self, name: str, image_id: str) -> None:
        self.tags[name] = image_id

    def remove_tag(self, name: str) -> None:
        self.tags.pop(name, None)

    def resolve_tag(self, name: str) -> str | None:
        return self.tags.get(name)

    def tags_of(self, image_id: str) -> builtins.list[str]:
        return sorted(n for n, i in self.tags.items() if i == image_id)


class FakeImageBackend:
    """Images without layers or parents, enough to create containers; lookup, list, tag,
    rmi, history and prune as the real service does them. What moves bytes (pull, push,
    save, load, import, bootstrap) is NotImplemented."""

    def __init__(self) -> None:
        self.registries = RegistryOptions()
        self._table = _ImageTable()

    def add(self, name: str, cmd: tuple[str, ...] = ("sh",),
            labels: dict[str, str] | None = None) -> Image:
        """A new image tagged ``name`` (moved from any image that had it)."""
        created = clock.rfc3339()
        image = Image(
            id="sha256:" + secrets.token_hex(32), repo_tags=(), repo_digests=(),
            created=created, size=4096, parent="", comment="",
            config={"architecture": "amd64", "os": "linux", "created": created,
                    "config": {"Cmd": list(cmd), "Env": [process.DEFAULT_PATH],
                               "Labels": labels or {}},
                    "rootfs": {"type": "layers", "diff_ids": []},
                    "history": [{"created": created, "empty_layer": True,
                                 "created_by": f"/bin/sh -c #(nop)  CMD {json.dumps(cmd)}"}]})
        self._table.images[image.id] = image
        self._table.set_tag(reference.parse_named(name).string(), image.id)
        return self._image(image.id)

    def _image(self, image_id: str) -> Image:
        refs = [reference.parse(name) for name in self._table.tags_of(image_id)]
        return replace(self._table.images[image_id],
                       repo_tags=tuple(r.familiar() for r in refs if r.digest is None),
                       repo_digests=tuple(r.familiar() for r in refs if r.digest is not None))

    def _get(self, ref_or_id: str) -> Image:
        """By reference first, then by a unique id prefix, as the real store looks."""
        def by_reference(ref: reference.Reference) -> ImageRecord | None:
            image_id = self._table.resolve_tag(ref.with_default_tag().string())
            return self._table.get_image(image_id) if image_id is not None else None

        return self._image(resolve(ref_or_id, by_reference, self._table.find_images).id)

    async def get(self, ref_or_id: str) -> Image:
        return self._get(ref_or_id)

    async def list(self, all: bool = False, filters: ImageFilters | None = None
                   ) -> builtins.list[Image]:
        images = [self._image(r.id) for r in self._table.list_images()]
        if filters is not None:
            return select(images, filters, all, lambda ref: self._get(ref).created)
        if all:
            return images
        parents = {i.parent for i in images if i.parent}
        return [i for i in images if i.repo_tags or i.repo_digests or i.id not in parents]

    async def tag(self, source: str, repo: str, tag: str) -> None:
        image = self._get(source)
        target = reference.parse_repository(repo).with_tag(reference.validate_tag(tag)) \
            if tag else reference.parse_named(repo)
        self._table.set_tag(target.string(), image.id)

    async def remove(self, ref: str, force: bool, users: Callable[[str], Users],
                     prune: bool = True) -> builtins.list[tuple[str, str]]:
        record = self._table.get_image(self._get(ref).id)
        assert record is not None
        request = DeleteRequest(text=ref, image=record, force=force, users=users(record.id),
                                prune=prune)
        return ImageDeleter(self._table, lambda: None).delete(request)  # type: ignore[arg-type]

    async def import_image(self, tar: AsyncIterator[bytes], repo_tag: str | None,
                           changes: builtins.list[str], message: str) -> Image:
        raise errors.NotImplemented("the fake image backend imports nothing")

    async def bootstrap(self, name: str, mirror: str = "",
                        progress: BootstrapProgress | None = None) -> Image:
        raise errors.NotImplemented("the fake image backend bootstraps nothing")

    async def pull(self, name: str, progress: PullCallback | None = None,
                   auth: AuthConfig | None = None, platform: str = "") -> PullResult:
        raise errors.NotImplemented("the fake image backend has no registry")

    async def registry_tags(self, name: str, auth: AuthConfig | None = None
                            ) -> builtins.list[str]:
        raise errors.NotImplemented("the fake image backend has no registry")

    async def push(self, name: str, tag: str = "", progress: PushCallback | None = None,
                   auth: AuthConfig | None = None) -> builtins.list[PushedTag]:
        raise errors.NotImplemented("the fake image backend has no registry")

    async def login(self, auth: AuthConfig) -> None:
        raise errors.NotImplemented("the fake image backend has no registry")

    async def save(self, names: builtins.list[str]) -> AsyncGenerator[bytes, None]:
        raise errors.NotImplemented("the fake image backend has no layers")

    async def load(self, body: AsyncIterator[bytes], emit: LoadCallback) -> None:
        raise errors.NotImplemented("the fake image backend has no layers")

    async def history(self, name: str) -> builtins.list[HistoryItem]:
        def parent_of(image_id: str) -> Image | None:
            return self._image(image_id) if image_id in self._table.images else None

        return history(self._get(name), lambda _: 0, parent_of)  # no layer has a size

    async def prune(self, filters: image_prune.PruneFilters, users: Callable[[str], Users]
                    ) -> image_prune.PruneReport:
        def labels(record: ImageRecord) -> dict[str, str]:
            config = self._table.images[record.id].config.get("config", {})
            return dict(config.get("Labels") or {})

        table = {i: users(i) for i in self._table.images}
        pruner = image_prune.ImagePruner(self._table, labels, lambda: 0)  # type: ignore[arg-type]
        return pruner.prune(filters, lambda i: table.get(i, []))  # nothing to reclaim


class FakeContainerBackend:
    def __init__(self, images: FakeImageBackend, events: EventBus | None = None,
                 data_root: str = "/var/lib/berth") -> None:
        self._images = images
        self.images = images  # the admin fake reads image sizes through it
        self.events = events or EventBus()
        self._data_root = data_root
        self._containers: dict[str, Container] = {}
        self._order: dict[str, int] = {}  # creation order, for equal timestamps
        self._exits: dict[str, list[asyncio.Future[int]]] = defaultdict(list)
        self._removals: dict[str, list[asyncio.Future[int]]] = defaultdict(list)
        self.on_exit: list[Callable[[str], None]] = []  # the exec fake's: its execs die
        # the preparers' ``removed(c, volumes)`` after a removal (the volume fake's)
        self.on_remove: list[Callable[[Container, bool], None]] = []
        # the preparers' checks at create (the network fake's resolves the networks)
        self.checks: list[Callable[[ContainerSpec], ContainerSpec]] = []

    # ── records ──────────────────────────────────────────────────────────────────────

    async def create(self, name: str | None, spec: ContainerSpec) -> Container:
        name = names.validate(name) if name else self._free_name()
        runtime = spec.runtime or NATIVE
        record.validate(spec, runtime, RUNTIMES)
        image = await self._images.get(spec.image)
        for check in self.checks:
            spec = check(spec)
        cid = secrets.token_hex(32)
        owner = self._name_owner(name)
        if owner is not None:
            raise _name_conflict(name, owner.id)
        c = record.new_container(cid, name, spec, image.id, image.config.get("config", {}),
                                 runtime, Path(self._data_root) / "containers" / cid)
        self._containers[cid] = c
        self._order[cid] = len(self._order)
        self.publish(c, "create")
        return c

    def _free_name(self) -> str:
        while True:
            candidate = names.random_name()
            if self._name_owner(candidate) is None:
                return candidate

    def _name_owner(self, name: str) -> Container | None:
        return next((c for c in self._containers.values() if c.name == name), None)

    def get(self, ref: str) -> Container:
        """The real store's lookup: full id, name (with or without "/"), unique prefix."""
        if not ref:
            raise InvalidArgument("container name or ID cannot be empty")
        if ref in self._containers:
            return self._containers[ref]
        owner = self._name_owner(ref.lstrip("/"))
        if owner is not None:
            return owner
        matches = [c for c in self._containers.values() if c.id.startswith(ref)]
        if len(matches) > 1:
            raise InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
        if not matches:
            raise NotFound(f"No such container: {ref}")
        return matches[0]

    def list(self) -> builtins.list[Container]:
        return sorted(self._containers.values(),
                      key=lambda c: (c.created, self._order[c.id]), reverse=True)

    def image_users(self, image_id: str) -> builtins.list[tuple[str, bool]]:
        return [(c.id, c.state.running) for c in self._containers.values()
                if c.image_id == image_id]

    def rename(self, c: Container, name: str) -> None:
        owner = self._name_owner(name)
        if owner is not None:
            raise _name_conflict(name, owner.id)
        old = c.name
        self.publish(self._save(replace(c, name=name)), "rename", oldName="/" + old)

    async def update(self, ref: str, change: ResourceUpdate) -> None:
        """The real merge and checks (engine/containers/update.py); no cgroup to write."""
        c = self.get(ref)
        try:
            spec = replace(c.spec, resources=update.merge(c, change),
                           restart_policy=update.restart_policy(c, change))
        except errors.Conflict as err:
            raise errors.Conflict(f"Cannot update container {c.id}: {err}") from None
        self.publish(self._save(replace(c, spec=spec)), "update")

    def _save(self, c: Container) -> Container:
        self._containers[c.id] = c
        return c

    def replace_spec(self, cid: str, spec: ContainerSpec) -> None:
        """For the network fake's connect and disconnect (the real service's
        ``change_endpoints``)."""
        self._save(replace(self._containers[cid], spec=spec))

    # ── start and exit ───────────────────────────────────────────────────────────────

    async def start(self, ref: str) -> None:
        c = self.get(ref)
        if c.state.running:
            raise NotModified("container already started")
        if c.state.status in (Status.REMOVING, Status.DEAD):
            raise Conflict(f"cannot start container {c.id}: it is being removed")
        started_at = clock.rfc3339()
        c = self._save(replace(c, restart_count=0, manually_stopped=False).with_state(
            status=Status.RUNNING, pid=10_000 + self._order[c.id], exit_code=0, error="",
            oom_killed=False, started_at=started_at))
        self.publish(c, "start")
        code = exit_code((c.path, *c.args))
        if code is not None:
            asyncio.get_running_loop().call_soon(self._exit_of_run, c.id, started_at, code)

    def _exit_of_run(self, cid: str, started_at: str, code: int) -> None:
        c = self._containers.get(cid)
        if c is not None and c.state.running and c.state.started_at == started_at:
            self._exited(c, code)

    def _exited(self, c: Container, code: int, restarting: bool = False) -> None:
        """Record the exit, then wake the waiters (the real service's order). The exit
        of a restart is not auto-removed."""
        c = self._save(c.with_state(status=Status.EXITED, pid=0, exit_code=code,
                                    finished_at=clock.rfc3339()))
        for callback in self.on_exit:
            callback(c.id)
        self.publish(c, "die", exitCode=str(code))
        _wake(self._exits, c.id, code)
        if c.spec.auto_remove and not restarting:
            self._finish_remove(c)

    # ── signals ──────────────────────────────────────────────────────────────────────

    async def kill(self, ref: str, sig: str = "SIGKILL") -> None:
        number = signals.parse(sig or "SIGKILL")
        c = self.get(ref)
        if not c.state.running:
            raise Conflict(f"Cannot kill container: {ref}: Container {c.id} is not running")
        c = self._save(replace(c, manually_stopped=True))
        self.publish(c, "kill", signal=str(number))
        if number == signal.SIGKILL:
            self._exited(c, KILLED)

    async def stop(self, ref: str, timeout: int | None = None, sig: str = "") -> None:
        if sig:
            signals.parse(sig)
        c = self.get(ref)
        if not c.state.running:
            raise NotModified("container already stopped")
        c = self._save(replace(c, manually_stopped=True))
        self._exited(c, KILLED)  # the stop signal is ignored; the grace ends in SIGKILL
        self.publish(c, "stop")

    async def restart(self, ref: str, timeout: int | None = None, sig: str = "") -> None:
        if sig:
            signals.parse(sig)
        c = self.get(ref)
        if c.state.running:
            self._exited(c, KILLED, restarting=True)
            self.publish(c, "stop")
        await self.start(c.id)

    def _running(self, ref: str) -> Container:
        c = self.get(ref)
        if not c.state.running:
            raise Conflict(f"Container {c.id} is not running")
        return c

    async def pause(self, ref: str) -> None:
        c = self._running(ref)
        if c.state.status == Status.PAUSED:
            raise Conflict(f"Container {c.id} is already paused")
        self.publish(self._save(c.with_state(status=Status.PAUSED)), "pause")

    async def unpause(self, ref: str) -> None:
        c = self.get(ref)
        if c.state.status != Status.PAUSED:
            raise Conflict(f"Container {c.id} is not paused")
        self.publish(self._save(c.with_state(status=Status.RUNNING)), "unpause")

    async def resize(self, ref: str, height: int, width: int) -> None:
        c = self._running(ref)
        if not c.spec.tty:
            raise Conflict(f"Container {c.id} has no TTY: only a container created with a "
                           "TTY (-t) can be resized")
        self.publish(c, "resize", height=str(height), width=str(width))

    # ── wait, attach, remove ─────────────────────────────────────────────────────────

    def waiter(self, ref: str, condition: str = "not-running") -> asyncio.Future[int]:
        c = self.get(ref)
        if condition not in ("not-running", "next-exit", "removed"):
            raise InvalidArgument(f"invalid condition: {condition!r}")
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        if condition == "removed":
            self._removals[c.id].append(fut)
        elif condition == "not-running" and not c.state.running:
            fut.set_result(c.state.exit_code)
        else:
            self._exits[c.id].append(fut)
        return fut

    async def attach(self, ref: str, req: AttachRequest) -> Streams:
        self.get(ref)
        raise errors.NotImplemented("the fake container backend runs no process to attach to")

    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        c = self.get(ref)
        if c.state.running:
            if not force:
                raise Conflict(
                    f'cannot remove container "/{c.name}": container is running: stop '
                    "the container before removing or force remove")
            self._exited(c, KILLED)
            c = self._containers.get(c.id, c)
        if c.id in self._containers:
            self._finish_remove(c, volumes)

    def _finish_remove(self, c: Container, volumes: bool = True) -> None:
        """``volumes``: rm -v (an auto-removed container's are removed too, as docker's)."""
        del self._containers[c.id]
        for callback in self.on_remove:
            callback(c, volumes)
        self.publish(c, "destroy")
        _wake(self._removals, c.id, c.state.exit_code)
        _wake(self._exits, c.id, c.state.exit_code)

    def publish(self, c: Container, action: str, **extra: str) -> None:
        attrs = {"name": c.name, "image": c.spec.image, **dict(c.labels), **extra}
        self.events.publish(Event("container", action, c.id, tuple(attrs.items())))


class FakeContainerAdmin:
    """ContainerAdminBackend: rename as the real one does; top, export and prune need a
    kernel or a filesystem and are NotImplemented."""

    def __init__(self, containers: FakeContainerBackend) -> None:
        self._containers = containers

    async def rename(self, ref: str, new_name: str) -> None:
        if not ref or not new_name:
            raise InvalidArgument("Neither old nor new names may be empty")
        c = self._containers.get(ref)
        name = names.validate(new_name)
        if name == c.name:
            raise InvalidArgument("Renaming a container with the same name as its current name")
        self._containers.rename(c, name)

    async def top(self, ref: str, ps_args: str) -> ProcessTable:
        raise errors.NotImplemented("the fake container admin has no processes")

    async def export(self, ref: str) -> AsyncGenerator[bytes, None]:
        raise errors.NotImplemented("the fake container admin has no filesystems")

    async def prune(self, filters: PruneFilters) -> PruneReport:
        raise errors.NotImplemented("the fake container admin prunes nothing")

    async def sizes(self, ref: str) -> tuple[int, int]:
        c = self._containers.get(ref)
        image = await self._containers.images.get(c.image_id)
        return 0, image.size  # nothing is ever written: no writable layer


class FakeExecBackend:
    def __init__(self, containers: FakeContainerBackend) -> None:
        self._containers = containers
        self._execs: dict[str, Exec] = {}
        self._exits: dict[str, asyncio.Future[int]] = {}
        containers.on_exit.append(self._container_exited)

    async def create(self, ref: str, spec: ExecSpec) -> Exec:
        c = self._containers.get(ref)
        check_creatable(c, ref, spec)
        rec = Exec(id=secrets.token_hex(32), container_id=c.id,
                   container_started_at=c.state.started_at, spec=spec)
        self._execs[rec.id] = rec
        self._exits[rec.id] = asyncio.get_running_loop().create_future()
        self._containers.publish(c, f"exec_create: {_command(spec)}", execID=rec.id)
        return rec

    def _alive(self, rec: Exec) -> bool:
        try:
            c = self._containers.get(rec.container_id)
        except NotFound:
            return False
        return c.state.running and c.state.started_at == rec.container_started_at

    def get(self, exec_id: str) -> Exec:
        rec = self._execs.get(exec_id)
        if rec is None or not self._alive(rec):
            self._execs.pop(exec_id, None)
            raise NotFound(f"No such exec instance: {exec_id}")
        return rec

    def ids_for(self, container_id: str) -> builtins.list[str]:
        return [r.id for r in self._execs.values()
                if r.container_id == container_id and self._alive(r)]

    def check_startable(self, rec: Exec) -> None:
        if rec.exit_code is not None:
            raise Conflict(f"Error: Exec command {rec.id} has already run")
        if rec.started:
            raise Conflict(f"Error: Exec command {rec.id} is already running")

    async def start(self, exec_id: str, attach: bool,
                    console_size: tuple[int, int] | None = None) -> Streams | None:
        rec = self.get(exec_id)
        self.check_startable(rec)
        if attach:
            raise errors.NotImplemented("the fake exec backend runs no process to attach to")
        rec = self._execs[rec.id] = replace(rec, started=True, running=True,
                                            pid=20_000 + len(self._execs))
        self._containers.publish(self._containers.get(rec.container_id),
                                 f"exec_start: {_command(rec.spec)}", execID=rec.id)
        code = exit_code(rec.spec.cmd)
        if code is not None:
            asyncio.get_running_loop().call_soon(self._finish, rec.id, code)
        return None

    def _finish(self, exec_id: str, code: int) -> None:
        rec = self._execs.get(exec_id)
        if rec is not None and rec.running:
            self._execs[exec_id] = replace(rec, running=False, exit_code=code)
        fut = self._exits.get(exec_id)
        if fut is not None and not fut.done():
            fut.set_result(code)
            if rec is not None:
                with contextlib.suppress(NotFound):
                    self._containers.publish(self._containers.get(rec.container_id),
                                             "exec_die", execID=exec_id, exitCode=str(code))

    def _container_exited(self, container_id: str) -> None:
        """Its execs die with the container's pid namespace."""
        for rec in builtins.list(self._execs.values()):
            if rec.container_id == container_id:
                self._finish(rec.id, KILLED)

    async def exited(self, exec_id: str) -> int:
        fut = self._exits.get(exec_id)
        if fut is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return await asyncio.shield(fut)

    def detached(self, exec_id: str) -> None:
        rec = self._execs.get(exec_id)
        if rec is not None:
            self._containers.publish(self._containers.get(rec.container_id),
                                     "exec_detach", execID=exec_id)

    async def resize(self, exec_id: str, height: int, width: int) -> None:
        rec = self.get(exec_id)
        if not rec.spec.tty:
            raise Conflict(f"exec {exec_id} has no TTY: only an exec created with a TTY (-t) "
                           "can be resized")
        if not rec.running and rec.exit_code is None:
            raise InvalidArgument("exec process is not started")


def _wake(table: dict[str, builtins.list[asyncio.Future[int]]], cid: str, code: int) -> None:
    for fut in table.pop(cid, []):
        if not fut.done():
            fut.set_result(code)


def _name_conflict(name: str, owner: str) -> Conflict:
    return Conflict(
        f'Conflict. The container name "/{name}" is already in use by container "{owner}". '
        "You have to remove (or rename) that container to be able to reuse that name.")


def _command(spec: ExecSpec) -> str:
    return f"{spec.cmd[0]} {' '.join(spec.cmd[1:])}"
