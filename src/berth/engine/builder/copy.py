"""COPY and ADD: which files a step copies (the plan), its cache key, and writing it.

Three stages, each usable on its own::

    plan_copy(spec, context | LayerTree)  ->  CopyPlan     sources resolved, URLs fetched
    copy_checksum(plan)                   ->  "sha256:.."  the step's cache key
    perform_copy(plan, upper, lower)                       files written into the new layer

The rules are docker's (classic builder, with buildkit's ``--chmod``/``--checksum``/
heredocs): a source path is relative to the context (a leading ``/`` or ``./`` is
dropped, ``..`` may not leave it) and its symlinks are followed inside the context; globs
use Go's ``filepath.Match`` (``*``, ``?``, ``[...]`` within one component, ``**`` is not
special); a directory source copies its *contents*; several sources need a destination
ending in ``/``; a relative destination is under WORKDIR; a destination ending in ``/``
(or naming an existing directory) receives files under their own names. ADD extracts local
tar archives (plain, gzip, bzip2, xz) and downloads http(s) URLs (:mod:`.remote`).

Blocking (it reads and writes files): the builder calls these from a worker thread.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

from berth.engine.builder import remote
from berth.engine.builder.copyplan import CopyItem, CopyPlan, CopySpec, Entry, ItemKind, Kind
from berth.engine.builder.placement import place
from berth.errors import InvalidArgument, NotFound
from berth.store.rootview import LayerTree

__all__ = ["CopyPlan", "CopySpec", "LayerTree", "copy_checksum", "perform_copy", "plan_copy"]

_CHUNK = 1 << 20
_WILDCARDS = frozenset("*?[")


# -- planning ------------------------------------------------------------------------


def parse_chmod(text: str | None) -> int | None:
    if text is None:
        return None
    if not re.fullmatch(r"[0-7]{1,4}", text):
        raise InvalidArgument(f"invalid chmod parameter: {text}. it should be octal string "
                              "and between 0 and 07777")
    return int(text, 8)


def destination(spec: CopySpec) -> tuple[str, bool]:
    """The absolute destination and whether it names a directory (moby
    ``normalizeDest``; "." and a trailing "/" or "/." mean a directory)."""
    dest = spec.dest
    is_dir = dest.endswith("/") or dest in (".", "") or dest.endswith("/.")
    if not dest.startswith("/"):
        dest = posixpath.join("/", spec.workdir or "/", dest)
    return posixpath.normpath(dest).replace("//", "/"), is_dir


def plan_copy(spec: CopySpec, source: Path | LayerTree, scratch: Path | None = None,
              ) -> CopyPlan:
    """Resolve ``spec`` against the build context (a directory) or a ``--from`` tree.

    ``scratch`` is where ADD downloads go (a new temporary directory by default)."""
    keyword = "ADD" if spec.add else "COPY"
    tree = source if isinstance(source, LayerTree) else LayerTree([source], whiteouts=False)
    dest, dest_is_dir = destination(spec)
    chmod = parse_chmod(spec.chmod)
    planner = _Planner(keyword, spec, tree, scratch)
    try:
        items = [item for src in spec.sources for item in planner.items(src)]
        items += [_heredoc_item(name, body) for name, body in spec.heredocs]
        if not items:
            raise InvalidArgument(f"{keyword} failed: no source files were specified")
        if len(items) > 1 and not dest_is_dir:
            raise InvalidArgument(f"When using {keyword} with more than one source file, "
                                  "the destination must be a directory and end with a /")
    except BaseException:
        planner.discard()
        raise
    return CopyPlan(keyword, spec, dest, dest_is_dir, chmod, tuple(items), planner.scratch)


def _heredoc_item(name: str, body: bytes) -> CopyItem:
    return CopyItem(f"<<{name}", name, ItemKind.FILE,
                    (Entry("", Kind.FILE, 0o644, 0.0, data=body),))


def has_wildcards(path: str) -> bool:
    """moby ``containsWildcards``: ``*``, ``?`` or ``[`` not escaped by ``\\``."""
    i = 0
    while i < len(path):
        if path[i] == "\\":
            i += 2
            continue
        if path[i] in _WILDCARDS:
            return True
        i += 1
    return False


def match_regex(component: str) -> re.Pattern[str]:
    """Go's ``filepath.Match`` for one path component, as a regex."""
    out: list[str] = []
    i, n = 0, len(component)
    while i < n:
        ch = component[i]
        i += 1
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and i < n:
            out.append(re.escape(component[i]))
            i += 1
        elif ch == "[":
            end = component.find("]", i + 1 if i < n and component[i] in "^!" else i)
            if end < 0:
                raise InvalidArgument(f"syntax error in pattern: {component}")
            body = component[i:end]
            negate = body[:1] == "^"
            body = body[1:] if negate else body
            body = "".join("\\" + c if c in "\\[]^" else c for c in body.replace("\\", ""))
            out.append(f"[{'^' if negate else ''}{body}]")
            i = end + 1
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


class _Planner:
    def __init__(self, keyword: str, spec: CopySpec, tree: LayerTree,
                 scratch: Path | None) -> None:
        self.keyword = keyword
        self.spec = spec
        self.tree = tree
        self.scratch = scratch
        self._own_scratch = False
        self._inodes: dict[tuple[int, int], int] = {}

    def discard(self) -> None:
        if self._own_scratch and self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None

    def items(self, src: str) -> list[CopyItem]:
        if remote.is_url(src):
            if not self.spec.add:
                raise InvalidArgument("source can't be a URL for COPY")
            return [self._download(src)]
        if self.spec.checksum is not None:
            raise InvalidArgument("checksum can't be specified for non-HTTP(S) sources")
        rel = self._context_path(src)
        if has_wildcards(rel):
            return [self._local(src, match) for match in self._glob(rel)]
        return [self._local(src, rel)]

    def _context_path(self, src: str) -> str:
        path = src.lstrip("/")
        path = path[2:] if path.startswith("./") else path
        cleaned = posixpath.normpath(path) if path else "."
        if cleaned == ".." or cleaned.startswith("../"):
            raise InvalidArgument(f"{self.keyword} failed: forbidden path outside the build "
                                  f"context: {src} ()")
        return "" if cleaned == "." else cleaned

    def _glob(self, pattern: str) -> list[str]:
        matches = [""]
        for component in pattern.split("/"):
            regex = match_regex(component) if has_wildcards(component) else None
            found: list[str] = []
            for base in matches:
                if regex is None:
                    name = re.sub(r"\\(.)", r"\1", component)
                    path = f"{base}/{name}" if base else name
                    if self.tree.exists(path):
                        found.append(path)
                    continue
                try:
                    names = self.tree.listdir(self.tree.resolve(base))
                except OSError:
                    continue
                found += [f"{base}/{n}" if base else n for n in names if regex.fullmatch(n)]
            matches = found
        return matches

    def _local(self, src: str, rel: str) -> CopyItem:
        try:
            resolved = self.tree.resolve(rel)
            st = self.tree.lstat(resolved)
        except OSError as err:
            raise NotFound(f"{self.keyword} failed: file not found in build context or "
                           f"excluded by .dockerignore: stat {rel or '.'}: file does not "
                           "exist") from err
        name = posixpath.basename(rel) or posixpath.basename(resolved)
        if stat.S_ISDIR(st.st_mode):
            return CopyItem(src, name, ItemKind.TREE, tuple(self._tree_entries(resolved)))
        entry = self._entry("", resolved, st)
        if self.spec.add and entry.kind is Kind.FILE and _is_archive(self.tree, resolved):
            return CopyItem(src, name, ItemKind.ARCHIVE, (entry,))
        return CopyItem(src, name, ItemKind.FILE, (entry,))

    def _tree_entries(self, root: str) -> list[Entry]:
        entries = []
        for rel in self.tree.walk(root):
            path = f"{root}/{rel}" if root else rel
            entry = self._entry(rel, path, self.tree.lstat(path))
            if entry is not None:
                entries.append(entry)
        return entries

    def _entry(self, rel: str, path: str, st: os.stat_result) -> Entry:
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISDIR(st.st_mode):
            return Entry(rel, Kind.DIR, mode, st.st_mtime)
        if stat.S_ISLNK(st.st_mode):
            return Entry(rel, Kind.SYMLINK, mode, st.st_mtime, link=self.tree.readlink(path))
        if stat.S_ISFIFO(st.st_mode):
            return Entry(rel, Kind.FIFO, mode, st.st_mtime)
        if not stat.S_ISREG(st.st_mode):
            raise InvalidArgument(f"{self.keyword} failed: {path} is not a regular file, "
                                  "directory or symbolic link")
        group = None
        if st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            if key in self._inodes:
                return Entry(rel, Kind.HARDLINK, mode, st.st_mtime, group=self._inodes[key])
            group = self._inodes[key] = len(self._inodes)
        return Entry(rel, Kind.FILE, mode, st.st_mtime, host=self.tree.host_path(path),
                     group=group)

    def _download(self, url: str) -> CopyItem:
        if self.scratch is None:
            self.scratch = Path(tempfile.mkdtemp(prefix="berth-add-"))
            self._own_scratch = True
        got = remote.download(url, self.scratch, self.spec.checksum)
        return CopyItem(url, got.name, ItemKind.FILE,
                        (Entry("", Kind.FILE, 0o600, got.mtime, host=got.path),))


def _is_archive(tree: LayerTree, rel: str) -> bool:
    """Whether ADD extracts this file: it reads as a tar, plain or compressed."""
    try:
        with tree.open(rel) as f, tarfile.open(fileobj=f, mode="r:*") as tf:
            return tf.next() is not None
    except (tarfile.TarError, OSError, EOFError):
        return False


# -- the cache key -------------------------------------------------------------------


def copy_checksum(plan: CopyPlan, known: Mapping[tuple[int, int], str] | None = None) -> str:
    """sha256 over every item's name and kind and every entry's path, type, mode, link
    target and content, plus the destination and the --chown/--chmod flags. Mtimes and
    the sources' owners are left out (docker's classic builder ignores them too).

    ``known``: content digests already computed, by (st_dev, st_ino) of the file that
    holds them (the build context's files, hashed while the upload was spooled)."""
    h = hashlib.sha256()

    def field(*values: str | int | None) -> None:
        for value in values:
            data = str("" if value is None else value).encode("utf-8", "surrogateescape")
            h.update(len(data).to_bytes(8, "big"))
            h.update(data)

    spec = plan.spec
    field(plan.keyword, plan.dest, int(plan.dest_is_dir), spec.chown, spec.chmod)
    groups = _link_groups(plan)
    for item in plan.items:
        field("item", item.kind.value, item.name, len(item.entries))
        for e in item.entries:
            field(e.rel, e.kind.value, e.mode, e.link, groups.get(e.group),
                  _content_digest(e, known))
    return "sha256:" + h.hexdigest()


def _link_groups(plan: CopyPlan) -> dict[int | None, int]:
    """Hard-link groups numbered by first appearance, only those the copy links: a file
    whose other links are not copied (the context kept between builds links every file
    to its earlier copy, ``contextcache.py``) checksums as a file with one link."""
    linked = {e.group for item in plan.items for e in item.entries
              if e.kind is Kind.HARDLINK}
    numbers: dict[int | None, int] = {}
    for item in plan.items:
        for e in item.entries:
            if e.group in linked and e.group not in numbers:
                numbers[e.group] = len(numbers)
    return numbers


def _content_digest(entry: Entry, known: Mapping[tuple[int, int], str] | None) -> str:
    if entry.data is not None:
        return hashlib.sha256(entry.data).hexdigest()
    if entry.host is None:
        return ""
    h = hashlib.sha256()
    with open(entry.host, "rb") as f:
        if known:
            st = os.fstat(f.fileno())
            digest = known.get((st.st_dev, st.st_ino))
            if digest is not None:
                return digest
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def perform_copy(plan: CopyPlan, upper: Path, lower: LayerTree) -> None:
    """Write ``plan`` into ``upper``, the new layer's directory over ``lower``."""
    place(plan, upper, lower)
