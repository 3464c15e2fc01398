"""Build contexts kept between builds, so the berth CLI uploads only what changed (Berth's
extension of the classic ``/build``; the docker CLI, docker-py and compose send the whole
context every time and are not affected).

A context tree unpacked for a build is kept after it as the newest *generation* of the
client's context key (the CLI's hash of host and directory). The next build of that
directory first asks which of its regular files the generation still holds unchanged::

    berth build                                      berthd
    walk, stat ─▶ POST /build/context {"key": K, "files": [[rel, size, signature], ...]}
               ◀─ {"base": G, "reuse": [i, ...]}     files of G with that very size and
                                                     signature (mtime, ctime, inode, mode)
    POST /build, body = .berth-context {"key": K, "base": G, "files": [[..., reused]]}
                        + the context tar without the reused files' entries
                     ─▶ unpack the tar, then hard-link each reused file from G's tree
                        (its digest, computed when it was first uploaded, comes along)

A signature is what the client's ``stat`` says; a file rewritten with the same size and
all of mtime, ctime and inode unchanged is not sent again (BuildKit's incremental
context trusts stat the same way). The daemon links only files it unpacked itself under
that path with that size and signature. Trees are never written after they are unpacked
(COPY reads them; a ``RUN --mount=type=bind`` from the context is read-only or an overlay
over them), so generations share inodes safely. A generation is removed once two newer
ones of its key exist or the cache holds more than :attr:`ContextCache.limit`, but never
while a build is linking from it; a build whose base is gone by then fails with
:class:`BaseGone` before it reads its context, and the CLI sends everything again.
Generations live in memory: a daemon restart forgets them (its start removes the trees).
"""

from __future__ import annotations

import json
import os
import stat
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from berth.errors import Conflict, InvalidArgument
from berth.formats.contextsync import BASE_GONE
from berth.store.rootview import secure_join

MAX_MANIFEST = 64 << 20  # bytes of the .berth-context JSON


class BaseGone(Conflict):
    """The generation a build was told to reuse has been removed since."""

    def __init__(self) -> None:
        super().__init__(BASE_GONE)


@dataclass(frozen=True)
class FileSig:
    size: int
    signature: str


@dataclass(frozen=True)
class Manifest:
    """The ``.berth-context`` preamble entry of a build: every regular file the client
    walked (path, size, signature) and which of them it left out of the tar for the
    daemon to link from generation ``base``."""

    key: str
    base: str
    files: dict[str, FileSig]
    reused: tuple[str, ...]

    @classmethod
    def parse(cls, raw: bytes) -> Manifest:
        try:
            doc: Any = json.loads(raw)
            key, base = str(doc["key"]), str(doc.get("base") or "")
            files: dict[str, FileSig] = {}
            reused = []
            for rel, size, signature, reuse in doc["files"]:
                rel = _clean(str(rel))
                files[rel] = FileSig(int(size), str(signature))
                if reuse:
                    reused.append(rel)
        except (ValueError, KeyError, TypeError) as err:
            raise InvalidArgument(f"invalid .berth-context entry: {err}") from None
        if not key:
            raise InvalidArgument("invalid .berth-context entry: empty key")
        if reused and not base:
            raise InvalidArgument("invalid .berth-context entry: files reused without a base")
        return cls(key, base, files, tuple(reused))


def _clean(rel: str) -> str:
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts) \
            or "\0" in rel:
        raise ValueError(f"bad path {rel!r}")
    return rel


@dataclass
class Generation:
    token: str
    key: str
    root: Path
    files: dict[str, FileSig]
    digests: dict[tuple[int, int], str]
    pins: int = 0
    retired: bool = False


@dataclass
class ContextCache:
    """The generations of every key, oldest first. A generation's tree is the build's
    own context directory (the builder removes stale ones at the daemon's start)."""

    limit: int = 16
    per_key: int = 2
    _generations: OrderedDict[str, Generation] = field(default_factory=OrderedDict)

    def match(self, key: str, files: list[tuple[str, int, str]]) -> tuple[str, list[int]]:
        """The newest generation of ``key`` and the indices of ``files`` it holds
        unchanged; ``("", [])`` when there is none."""
        gen = self._newest(key)
        if gen is None:
            return "", []
        return gen.token, [i for i, (rel, size, sig) in enumerate(files)
                           if gen.files.get(rel) == FileSig(size, sig)]

    def _newest(self, key: str) -> Generation | None:
        for gen in reversed(self._generations.values()):
            if gen.key == key and not gen.retired:
                return gen
        return None

    def pin(self, manifest: Manifest) -> Generation | None:
        """The generation ``manifest`` reuses, kept until :meth:`unpin`; None when it
        reuses nothing. Raises BaseGone if it has been removed."""
        if not manifest.reused:
            return None
        gen = self._generations.get(manifest.base)
        if gen is None or gen.retired or gen.key != manifest.key:
            raise BaseGone()
        gen.pins += 1
        return gen

    def unpin(self, gen: Generation | None) -> list[Path]:
        """Let ``gen`` go; returns its tree if it was retired meanwhile (to remove)."""
        if gen is None:
            return []
        gen.pins -= 1
        return [gen.root] if gen.retired and not gen.pins else []

    def keep(self, manifest: Manifest, root: Path, files: dict[str, FileSig],
             digests: dict[tuple[int, int], str]) -> list[Path]:
        """Make the unpacked tree ``root`` the newest generation of the manifest's key,
        holding ``files`` (:func:`present`); returns the trees of generations retired by
        it, for the caller to remove."""
        gen = Generation(root.name, manifest.key, root, files, digests)
        self._generations[gen.token] = gen
        return self._evict(manifest.key)

    def _evict(self, key: str) -> list[Path]:
        same = [g for g in self._generations.values() if g.key == key]
        doomed = same[:-self.per_key]
        live = [g for g in self._generations.values() if g not in doomed]
        doomed += live[:max(0, len(live) - self.limit)]
        trees = []
        for gen in doomed:
            trees += self.retire(gen.token)
        return trees

    def generations(self) -> list[Generation]:
        """Every generation a build may still start from, oldest first."""
        return list(self._generations.values())

    def generation(self, token: str) -> Generation | None:
        return self._generations.get(token)

    def retire(self, token: str) -> list[Path]:
        """Forget generation ``token`` (evicted, or pruned): no build can start from it
        any more. Returns its tree to remove, unless a build is still linking from it
        (then :meth:`unpin` returns it)."""
        gen = self._generations.pop(token, None)
        if gen is None:
            return []
        gen.retired = True
        return [] if gen.pins else [gen.root]


def present(manifest: Manifest, root: Path) -> dict[str, FileSig]:
    """The manifest's files that are in the tree ``root`` as regular files of the size
    it says (what ``.dockerignore`` excluded, for one, is not)."""
    files = {}
    for rel, sig in manifest.files.items():
        try:
            st = os.lstat(secure_join(str(root), rel))
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_size == sig.size:
            files[rel] = sig
    return files


def link_reused(manifest: Manifest, base: Generation, root: Path,
                excluded: Callable[[str], bool] | None = None
                ) -> dict[tuple[int, int], str]:
    """Hard-link the files ``manifest`` reuses from ``base``'s tree into ``root`` (where
    the rest of the context was just unpacked, parent directories included); returns
    their known digests. The parents' mtimes are put back as the tar set them.
    ``excluded(rel)`` is the daemon's own ``.dockerignore`` check."""
    digests: dict[tuple[int, int], str] = {}
    parents: dict[str, os.stat_result] = {}
    for rel in manifest.reused:
        if excluded is not None and excluded(rel):
            continue
        if base.files.get(rel) != manifest.files[rel]:
            raise BaseGone()  # the client reused what the base does not hold as such
        src = secure_join(str(base.root), rel)
        head, _, name = rel.rpartition("/")
        parent = secure_join(str(root), head) if head else str(root)
        if parent not in parents:
            try:
                parents[parent] = os.stat(parent)
            except FileNotFoundError:
                raise InvalidArgument(f"invalid build context: reused file {rel!r} has no "
                                      f"parent directory in the context") from None
        st = os.lstat(src)
        if not stat.S_ISREG(st.st_mode):
            raise BaseGone()
        try:
            os.link(src, os.path.join(parent, name), follow_symlinks=False)
        except FileExistsError:
            raise InvalidArgument(f"invalid build context: {rel!r} is both sent and "
                                  f"reused") from None
        digest = base.digests.get((st.st_dev, st.st_ino))
        if digest is not None:
            digests[(st.st_dev, st.st_ino)] = digest
    for parent, st in parents.items():
        os.utime(parent, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
    return digests
