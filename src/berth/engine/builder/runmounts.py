"""Serving a RUN's ``--mount``s (:mod:`.mounts`): each becomes a host-side
:class:`~berth.oci.mount.Mount` at its target in the RUN container, and what it needs (a
lock, a scratch upper dir, a secret's file) lives exactly as long as the step::

    type    host side                                        the RUN sees
    cache   <data-root>/build/cache/<sha256(id)>, persists   rw bind (ro with ``ro``)
    bind    the context, or a stage's/image's layer dirs     ro bind (one dir) or ro overlay
            rw: overlay with an upperdir in the step's dir   writes vanish with the step
    tmpfs   -                                                an empty tmpfs (``size=``)
    secret  <build dir>/secrets-*/<sha>-<uid>-<gid>-<mode>   a read-only file

The runtime performs the mounts in the container's mount namespace, so nothing is mounted
on the host and nothing outlives the container; none of it reaches the layer, because
the mount points the runtime had to create are removed before the diff
(:mod:`.mountpoints`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets as random
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from berth.engine.builder.commit import Committer
from berth.engine.builder.copy import CopySpec, perform_copy, plan_copy
from berth.engine.builder.errors import DockerfileError
from berth.engine.builder.mounts import (
    Expander,
    MountType,
    RunMount,
    Sharing,
    parse_mount,
    resolve_target,
)
from berth.engine.builder.secretstore import SecretStore
from berth.engine.builder.state import BaseImage
from berth.errors import InvalidArgument
from berth.oci.mount import Mount
from berth.store.rootview import LayerTree, split

SourceResolver = Callable[[str, int], Awaitable[BaseImage]]
_SECRET_OPTIONS = ("rbind", "ro", "nosuid", "nodev", "noexec")


class CacheLocks:
    """Which cache mounts are in use, daemon-wide (builds running together share them):
    ``sharing=locked`` waits for the lock, ``private`` gets a fresh directory while
    another step uses the cache."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}
        self.create = asyncio.Lock()  # one step at a time makes a new cache directory

    def lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    def in_use(self, key: str) -> bool:
        return self._users.get(key, 0) > 0

    def dir_in_use(self, name: str) -> bool:
        """Whether a step uses the cache whose directory is ``name`` (:func:`cache_dir`)."""
        return any(cache_dir(key) == name for key in self._users)

    @contextlib.contextmanager
    def using(self, key: str) -> Iterator[None]:
        self._users[key] = self._users.get(key, 0) + 1
        try:
            yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]


def cache_dir(ident: str) -> str:
    """The name of cache mount ``ident``'s directory under the cache root."""
    return hashlib.sha256(ident.encode()).hexdigest()


@dataclass(frozen=True)
class MountSources:
    """Where one build's mounts come from."""

    context_root: Path
    cache_root: Path  # persistent cache mounts, shared by every build
    scratch_root: Path  # this build's per-step directories (rw overlays, private caches)
    secrets: SecretStore
    caches: CacheLocks
    committer: Committer
    resolve_source: SourceResolver


@dataclass(frozen=True)
class StepMounts:
    mounts: tuple[Mount, ...]
    targets: tuple[str, ...]  # the absolute targets (for drop_mount_points)


def parse_run_mounts(values: Sequence[str], expand: Expander, workdir: str, line: int
                     ) -> tuple[RunMount, ...]:
    """The ``--mount`` values of one RUN, targets made absolute (a cache's id defaults
    to its target), in mount order: parents before what is mounted inside them."""
    out: list[RunMount] = []
    for value in values:
        mount = parse_mount(value, expand, line)
        target = resolve_target(mount, workdir, line)
        ident = mount.id or (target if mount.type is MountType.CACHE else "")
        out.append(replace(mount, target=target, id=ident))
    return tuple(sorted(out, key=lambda m: len(split(m.target))))


@contextlib.asynccontextmanager
async def step_mounts(mounts: Sequence[RunMount], sources: MountSources, line: int
                      ) -> AsyncIterator[StepMounts]:
    """The host side of ``mounts`` for one RUN; released (locks, scratch dirs) on exit."""
    step_dir = sources.scratch_root / random.token_hex(8)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(asyncio.to_thread, shutil.rmtree, step_dir, True)
        await asyncio.to_thread(step_dir.mkdir, 0o700, True, True)
        prepared = _Preparer(sources, stack, step_dir, line)
        out: list[Mount] = []
        for mount in mounts:
            if (m := await prepared.mount(mount)) is not None:
                out.append(m)
        yield StepMounts(tuple(out), tuple(m.target for m in out))


class _Preparer:
    def __init__(self, sources: MountSources, stack: contextlib.AsyncExitStack,
                 step_dir: Path, line: int) -> None:
        self.sources = sources
        self.stack = stack
        self.step_dir = step_dir
        self.line = line

    def _scratch(self, name: str) -> Path:
        path = self.step_dir / f"{name}-{random.token_hex(4)}"
        path.mkdir(mode=0o755)
        return path

    async def mount(self, m: RunMount) -> Mount | None:
        if m.type is MountType.TMPFS:
            size = (f"size={m.size}",) if m.size else ()
            return Mount("tmpfs", "tmpfs", ("nosuid", "nodev", *size), m.target)
        if m.type is MountType.SECRET:
            return await self._secret(m)
        if m.type is MountType.CACHE:
            return await self._cache(m)
        return await self._bind(m)

    async def _secret(self, m: RunMount) -> Mount | None:
        mode = 0o400 if m.mode is None else m.mode
        path = await asyncio.to_thread(self.sources.secrets.file, m.id, m.uid or 0,
                                       m.gid or 0, mode)
        if path is None:
            if m.required:
                raise InvalidArgument(f"secret {m.id}: not found")
            return None  # an optional secret the build was not given: no mount at all
        return Mount("bind", str(path), _SECRET_OPTIONS, m.target)

    async def _cache(self, m: RunMount) -> Mount:
        caches = self.sources.caches
        if m.sharing is Sharing.LOCKED:
            await self.stack.enter_async_context(caches.lock(m.id))
        if m.sharing is Sharing.PRIVATE and caches.in_use(m.id):
            path = self.step_dir / f"cache-{random.token_hex(4)}"  # discarded with the step
        else:
            self.stack.enter_context(caches.using(m.id))
            path = self.sources.cache_root / cache_dir(m.id)
        if not path.is_dir():
            async with caches.create:
                if not path.is_dir():
                    await self._new_cache(path, m)
        return Mount("bind", str(path), ("rbind", "ro" if m.readonly else "rw"), m.target)

    async def _new_cache(self, path: Path, m: RunMount) -> None:
        """Make the cache directory (``mode``/``uid``/``gid``; filled from ``from=`` if
        given) beside ``path`` and rename it into place."""
        tree = await self._tree(m.from_) if m.from_ else None

        def make() -> None:
            tmp = path.with_name(f".new-{path.name}-{random.token_hex(4)}")
            tmp.mkdir(parents=True, mode=0o700)
            try:
                if tree is not None:
                    with plan_copy(CopySpec(sources=(m.source or "/",), dest="/"), tree
                                   ) as plan:
                        perform_copy(plan, tmp, LayerTree([]))
                os.chmod(tmp, 0o755 if m.mode is None else m.mode)
                if os.geteuid() == 0:
                    os.chown(tmp, m.uid or 0, m.gid or 0)
                os.rename(tmp, path)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise

        try:
            await asyncio.to_thread(make)
        except (OSError, InvalidArgument) as err:
            raise DockerfileError(f"failed to prepare cache mount {m.target}: {err}",
                                  self.line) from err

    async def _tree(self, from_: str) -> LayerTree:
        if not from_:
            return LayerTree([self.sources.context_root], whiteouts=False)
        image = await self.sources.resolve_source(from_, self.line)
        return LayerTree(self.sources.committer.layer_dirs(image))

    async def _bind(self, m: RunMount) -> Mount:
        tree = await self._tree(m.from_)
        source = m.source or "/"
        try:
            dirs = await asyncio.to_thread(tree.source_dirs, source)
        except OSError as err:
            where = f" in {m.from_}" if m.from_ else ""
            raise DockerfileError(f"failed to mount {m.target}: source "
                                  f"\"/{'/'.join(split(source))}\"{where}: not found",
                                  self.line) from err
        return await asyncio.to_thread(self._bind_dirs, m, dirs)

    def _bind_dirs(self, m: RunMount, dirs: list[Path]) -> Mount:
        if not dirs:  # the root of FROM scratch
            dirs = [self._scratch("empty")]
        top = dirs[0]
        if not top.is_dir() or top.is_symlink():  # one file
            if not m.readonly:
                copy = self._scratch("file") / top.name
                shutil.copy2(top, copy)
                top = copy
            return Mount("bind", str(top), ("rbind", "ro" if m.readonly else "rw"),
                         m.target)
        if m.readonly and len(dirs) == 1:
            return Mount("bind", str(top), ("rbind", "ro"), m.target)
        lower = "lowerdir=" + ":".join(str(d) for d in dirs)
        if m.readonly:  # overlayfs wants two lowerdirs or an upperdir
            return Mount("overlay", "overlay", ("ro", lower), m.target)
        upper, work = self._scratch("upper"), self._scratch("work")
        return Mount("overlay", "overlay",
                     (lower, f"upperdir={upper}", f"workdir={work}"), m.target)
