"""``docker builder prune`` (``POST /build/prune``): remove what the builder keeps between
builds and no build is using. The classic builder's layer cache is the images themselves
(``image prune`` removes those); what is left is on disk under the build directory::

    <data-root>/build/
        kept-<token>/        a kept context (contextcache.py): one generation of a berth
                             CLI context; newer generations hard-link its unchanged files
        cache/<sha256(id)>/  a RUN --mount=type=cache directory (runmounts.py)
        cache/.new-*         a cache directory being made: never touched
        pruned-<token>/      cache directories a prune is removing (gone at the next start)

Each kept context and cache directory is one entry, reported by its directory name.
There is no "dangling" record as in BuildKit, so ``all`` changes nothing. An entry in
use is never removed: a generation a build is linking from (pinned), a cache directory
a RUN step has mounted. A prune goes in three steps::

    scan     (thread)      walk every entry: its time, and each inode with its blocks
                           and link count
    choose   (event loop)  what is unused now, older than ``until``, oldest first while
    + detach               more than ``keep_storage`` bytes remain; then retire those
                           generations (no build can start from them any more) and
                           rename those cache dirs into pruned-<token> (a step that
                           wants one after this makes a fresh one), with no await in
                           between, so nothing can start using a chosen entry
    remove   (thread)      count what removing frees, then remove the trees

Sizes are disk blocks (``st_blocks``), each inode counted once, as containerd's
``fs.DiskUsage`` counts a snapshot. An inode frees space only once all of its links go:
a file a kept context shares with a newer one (or with a running build's context) stays.
An entry's time is when it was last written: a kept context's directory mtime (set when
the build that made it ended), a cache directory's newest mtime anywhere in its tree.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import stat
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from berth.engine import clock
from berth.engine.builder.contextcache import ContextCache
from berth.engine.builder.runmounts import CacheLocks
from berth.errors import InvalidArgument

log = logging.getLogger(__name__)

Inode = tuple[int, int]  # (st_dev, st_ino)
FILTERS = ("until", "unused-for")  # "unused-for": BuildKit's older name for "until"


@dataclass(frozen=True)
class CachePruneOptions:
    keep_storage: int = 0  # bytes the build cache may keep; 0: no limit, remove all unused
    until: float | None = None  # unix seconds: only entries last written before


@dataclass(frozen=True)
class CachePruneReport:
    deleted: tuple[str, ...]  # the entries' directory names, oldest first
    space_reclaimed: int


def prune_options(filters: Mapping[str, list[str]], keep_storage: int = 0
                  ) -> CachePruneOptions:
    """The options of ``POST /build/prune``'s ``filters`` (``until``: a Go duration before
    now, unix seconds or RFC 3339, as ``image prune`` takes it) and ``keep-storage``."""
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise InvalidArgument(f"invalid filter '{unknown[0]}'")
    values = [v for key in FILTERS for v in filters.get(key, [])]
    until = None
    if values:
        try:
            until = min(clock.parse_point(v) for v in values)
        except ValueError as err:
            raise InvalidArgument(f"invalid filter 'until={values[0]}'") from err
    return CachePruneOptions(keep_storage=max(0, keep_storage), until=until)


@dataclass
class _Entry:
    name: str  # the ID reported: the directory name
    path: Path
    token: str  # a kept context's generation; "" for a cache directory
    mtime: float = 0.0
    links: Counter[Inode] = field(default_factory=Counter)  # links to each inode in it


@dataclass
class _Scan:
    entries: list[_Entry]
    inodes: dict[Inode, tuple[int, int]]  # bytes on disk, links in all (1 for a dir)


class _Usage:
    """What the scanned entries take, and what removing some of them frees."""

    def __init__(self, scan: _Scan) -> None:
        self.inodes = scan.inodes
        self.total = sum(size for size, _ in scan.inodes.values())
        self.freed = 0
        self._removed: Counter[Inode] = Counter()

    def remove(self, entry: _Entry) -> None:
        for inode, count in entry.links.items():
            before = self._removed[inode]
            self._removed[inode] = before + count
            size, nlink = self.inodes[inode]
            if before < nlink <= before + count:
                self.freed += size

    @property
    def remaining(self) -> int:
        return self.total - self.freed


class CachePruner:
    """The builder's kept contexts (``contexts``) and cache mounts (``caches``, whose
    directories are under ``cache_root``), pruned one prune at a time."""

    def __init__(self, work_root: Path, cache_root: Path, contexts: ContextCache,
                 caches: CacheLocks) -> None:
        self.work_root = work_root
        self.cache_root = cache_root
        self.contexts = contexts
        self.caches = caches
        self._lock = asyncio.Lock()

    async def prune(self, options: CachePruneOptions) -> CachePruneReport:
        async with self._lock:
            kept = [(gen.token, gen.root) for gen in self.contexts.generations()]
            trash = self.work_root / f"pruned-{secrets.token_hex(8)}"
            scan = await asyncio.to_thread(self._scan, kept, trash)
            chosen = self._choose(scan, options)
            doomed, trees = self._detach(chosen, trash)  # no await between these two
            freed = await asyncio.to_thread(_remove, trees, trash)
        return CachePruneReport(tuple(e.name for e in doomed), freed)

    def _scan(self, kept: list[tuple[str, Path]], trash: Path) -> _Scan:
        entries = [_Entry(root.name, root, token) for token, root in kept]
        caches = []
        try:
            with os.scandir(self.cache_root) as listing:
                for item in listing:
                    if not item.name.startswith(".") and item.is_dir(follow_symlinks=False):
                        caches.append(_Entry(item.name, Path(item.path), ""))
        except FileNotFoundError:
            pass  # no build has used a cache mount yet
        if caches:
            trash.mkdir(mode=0o700)
        inodes: dict[Inode, tuple[int, int]] = {}
        found = []
        for entry in entries + caches:
            times = _walk(entry.path, inodes, entry.links)
            if times is None:
                continue  # removed meanwhile (a generation evicted by a newer build)
            entry.mtime = times[0] if entry.token else times[1]
            found.append(entry)
        return _Scan(found, inodes)

    def _choose(self, scan: _Scan, options: CachePruneOptions) -> list[_Entry]:
        """The entries to remove: unused right now, old enough, oldest first."""
        unused = [e for e in scan.entries if self._unused(e)
                  and (options.until is None or e.mtime < options.until)]
        unused.sort(key=lambda e: e.mtime)
        if not options.keep_storage:
            return unused
        usage = _Usage(scan)
        chosen = []
        for entry in unused:
            if usage.remaining <= options.keep_storage:
                break
            usage.remove(entry)
            chosen.append(entry)
        return chosen

    def _unused(self, entry: _Entry) -> bool:
        if entry.token:
            gen = self.contexts.generation(entry.token)
            return gen is not None and not gen.pins
        return not self.caches.dir_in_use(entry.name)

    def _detach(self, chosen: list[_Entry], trash: Path) -> tuple[list[_Entry], list[Path]]:
        """Make ``chosen`` unreachable for builds; returns those detached and their trees
        (the cache directories' renamed ones), all to remove."""
        doomed, trees = [], []
        for entry in chosen:
            if entry.token:
                trees += self.contexts.retire(entry.token)
            else:
                moved = trash / entry.name
                try:
                    entry.path.rename(moved)  # one rename: cheap enough for the loop
                except FileNotFoundError:
                    continue
                trees.append(moved)
            doomed.append(entry)
        return doomed, trees


def _walk(root: Path, inodes: dict[Inode, tuple[int, int]], links: Counter[Inode]
          ) -> tuple[float, float] | None:
    """Record every inode of the tree ``root`` (its own included) in ``inodes`` and count
    its links here in ``links``; returns the mtimes of ``root`` and of the newest entry in
    the tree, or None if ``root`` is gone."""
    try:
        top = os.lstat(root)
    except FileNotFoundError:
        return None
    newest = own = _record(top, inodes, links)
    pending = [str(root)] if stat.S_ISDIR(top.st_mode) else []
    while pending:
        try:
            listing = os.scandir(pending.pop())
        except (FileNotFoundError, NotADirectoryError):
            continue  # removed or replaced while we walk: it takes no space here
        with listing:
            for item in listing:
                try:
                    st = item.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                newest = max(newest, _record(st, inodes, links))
                if stat.S_ISDIR(st.st_mode):
                    pending.append(item.path)
    return own, newest


def _record(st: os.stat_result, inodes: dict[Inode, tuple[int, int]],
            links: Counter[Inode]) -> float:
    inode = (st.st_dev, st.st_ino)
    # a directory's link count counts its subdirectories' "..": it has one name
    inodes[inode] = (st.st_blocks * 512, 1 if stat.S_ISDIR(st.st_mode) else st.st_nlink)
    links[inode] += 1
    return st.st_mtime


def _remove(trees: list[Path], trash: Path) -> int:
    """Remove ``trees`` (and ``trash``, where the cache directories were moved); returns
    the bytes freed: the inodes all of whose links were in them."""
    inodes: dict[Inode, tuple[int, int]] = {}
    links: Counter[Inode] = Counter()
    for tree in trees:
        _walk(tree, inodes, links)
    freed = sum(size for inode, (size, nlink) in inodes.items() if links[inode] >= nlink)
    for tree in [*trees, trash]:
        shutil.rmtree(tree, onerror=_report)
    return freed


def _report(func: object, path: str, exc: tuple[type[BaseException], BaseException, object]
            ) -> None:
    if not isinstance(exc[1], FileNotFoundError):
        log.warning("build cache prune: cannot remove %s: %s", path, exc[1])
