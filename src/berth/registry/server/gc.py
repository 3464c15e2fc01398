"""Offline garbage collection: mark every blob a manifest still needs, sweep the rest.

Run it with no server writing to the root (distribution's rule too: a push racing the
sweep could lose a blob uploaded but not yet referenced)::

    mark   for each repository, for each manifest revision (tagged or not):
               the manifest blob itself,
               image manifest → its config and layers,
               index          → each child manifest, recursively
    sweep  blobs/sha256/*/<hex>  not marked          → deleted (with their directory)
           <repo>/_layers/sha256/<hex>/link to a swept blob → deleted, so a repository
                                                        never claims a blob it cannot serve

``dry_run`` computes the same report and changes nothing.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from berth.registry.server import documents, paths
from berth.registry.server.errcode import RegistryError
from berth.registry.server.registry import Registry
from berth.registry.server.storage import PathNotFound, StorageDriver
from berth.registry.server.storage.filesystem import FilesystemDriver

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GCReport:
    dry_run: bool
    marked: frozenset[str]
    deleted_blobs: tuple[str, ...]  # digests whose data was (or, dry run, would be) removed
    deleted_links: tuple[str, ...]  # "<repository>@<digest>" layer links removed
    freed_bytes: int


def _mark(registry: Registry) -> set[str]:
    marked: set[str] = set()
    for name in registry.repositories():
        pending = registry.manifests.revisions(name)
        while pending:
            digest = pending.pop()
            if digest in marked:
                continue
            marked.add(digest)
            try:
                parsed = documents.parse(registry.blobs.get_small(digest))
            except RegistryError as err:
                log.warning("gc: %s@%s is unreadable, its references are not marked: %s",
                            name, digest, err.message)
                continue
            for ref in parsed.references:
                if ref.kind == "manifest":
                    pending.append(ref.digest)
                else:
                    marked.add(ref.digest)
    return marked


def _all_blobs(driver: StorageDriver) -> list[str]:
    found: list[str] = []
    root = f"{paths.BLOBS}/sha256"
    for prefix in _children(driver, root):
        found += [f"sha256:{hex_}" for hex_ in _children(driver, f"{root}/{prefix}")]
    return found


def _children(driver: StorageDriver, path: str) -> list[str]:
    try:
        return driver.list(path)
    except PathNotFound:
        return []


def collect(driver: StorageDriver, dry_run: bool) -> GCReport:
    """Garbage-collect any driver's registry (``garbage_collect`` is the filesystem one)."""
    registry = Registry(driver)
    marked = _mark(registry)
    doomed: list[str] = []
    freed = 0
    for digest in _all_blobs(driver):
        if digest not in marked:
            doomed.append(digest)
            try:
                freed += driver.stat(paths.blob_data(digest)).size
            except PathNotFound:
                pass  # a directory without data: an interrupted earlier sweep
    doomed_set = set(doomed)
    links = [(name, f"sha256:{hex_}") for name in registry.repositories(paths.LAYERS_DIR)
             for hex_ in _children(driver, paths.layers_root(name))]
    dead_links = [(name, d) for name, d in links if d in doomed_set or
                  not _exists(driver, paths.blob_data(d))]
    if not dry_run:
        for digest in doomed:
            driver.delete(paths.blob_dir(digest))
        for name, digest in dead_links:
            driver.delete(paths.layer_link(name, digest).rsplit("/", 1)[0])
    log.info("gc%s: %d blobs marked, %d swept (%d bytes), %d dangling links",
             " (dry run)" if dry_run else "", len(marked), len(doomed), freed, len(dead_links))
    return GCReport(dry_run, frozenset(marked), tuple(sorted(doomed)),
                    tuple(sorted(f"{n}@{d}" for n, d in dead_links)), freed)


def _exists(driver: StorageDriver, path: str) -> bool:
    try:
        driver.stat(path)
    except PathNotFound:
        return False
    return True


def garbage_collect(root: str | os.PathLike[str], dry_run: bool = False) -> GCReport:
    return collect(FilesystemDriver(root), dry_run)
