"""``builder prune``: which kept contexts and cache mount directories go (never one in
use), in which order, and how many bytes removing them frees."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest
from tests.trees import write

from berth.engine.builder.contextcache import ContextCache, Generation, Manifest, present
from berth.engine.builder.prune import CachePruneOptions, CachePruner, prune_options
from berth.engine.builder.runmounts import CacheLocks, cache_dir
from berth.errors import InvalidArgument

KEY = "host:/src/app"
DAY = 86400.0


class Fixture:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache_root = root / "cache"
        self.contexts = ContextCache()
        self.caches = CacheLocks()
        self.pruner = CachePruner(root, self.cache_root, self.contexts, self.caches)

    def kept(self, token: str, files: dict[str, bytes], key: str = KEY,
             links: dict[str, Path] | None = None) -> Generation:
        """A kept context ``kept-<token>`` holding ``files`` and hard links ``links``."""
        root = self.root / f"kept-{token}"
        root.mkdir()
        for rel, data in files.items():
            write(root, rel, data)
        for rel, source in (links or {}).items():
            os.link(source, root / rel)
        names = [*files, *(links or {})]
        doc = {"key": key, "base": "",
               "files": [[rel, (root / rel).stat().st_size, "sig", False] for rel in names]}
        manifest = Manifest.parse(json.dumps(doc).encode())
        assert self.contexts.keep(manifest, root, present(manifest, root), {}) == []
        return self.contexts.generation(root.name)

    def cache(self, ident: str, files: dict[str, bytes]) -> Path:
        path = self.cache_root / cache_dir(ident)
        path.mkdir(parents=True)
        for rel, data in files.items():
            write(path, rel, data)
        return path

    def prune(self, **options: object) -> tuple[list[str], int]:
        report = asyncio.run(self.pruner.prune(CachePruneOptions(**options)))
        return list(report.deleted), report.space_reclaimed

    def left(self) -> list[str]:
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.glob("*")) + \
            sorted(f"cache/{p.name}" for p in self.cache_root.glob("*"))


def age(path: Path, days: float) -> None:
    """Give ``path`` and everything under it an mtime ``days`` ago."""
    when = time.time() - days * DAY
    for p in [path, *path.rglob("*")]:
        os.utime(p, (when, when), follow_symlinks=False)


def blocks(*paths: Path) -> int:
    return sum(os.lstat(p).st_blocks * 512 for p in paths)


@pytest.fixture
def fx(tmp_path: Path) -> Fixture:
    return Fixture(tmp_path)


def test_everything_unused_goes_and_nothing_is_left_behind(fx: Fixture) -> None:
    gen = fx.kept("a1", {"Dockerfile": b"FROM busybox\n", "src/app.py": os.urandom(9000)})
    cache = fx.cache("pip", {"wheel.whl": os.urandom(20000)})
    new = fx.cache_root / ".new-abc-1234"  # a cache dir being made right now
    new.mkdir()
    size = blocks(gen.root, gen.root / "Dockerfile", gen.root / "src",
                  gen.root / "src/app.py", cache, cache / "wheel.whl")
    deleted, reclaimed = fx.prune()
    assert sorted(deleted) == sorted(["kept-a1", cache.name])
    assert reclaimed == size
    assert fx.left() == ["cache", "cache/.new-abc-1234"]  # no pruned-* trash either
    assert fx.contexts.generations() == [] and gen.retired
    assert fx.contexts.match(KEY, [("Dockerfile", 13, "sig")]) == ("", [])


def test_a_cache_dir_in_use_is_kept(fx: Fixture) -> None:
    busy = fx.cache("apt", {"lists/x": b"x"})
    idle = fx.cache("npm", {"y": b"y"})
    with fx.caches.using("apt"):
        assert fx.caches.dir_in_use(busy.name) and not fx.caches.dir_in_use(idle.name)
        deleted, _ = fx.prune()
    assert deleted == [idle.name]
    assert busy.is_dir() and not idle.exists()
    assert fx.prune()[0] == [busy.name]  # once the step is over


def test_a_generation_being_linked_from_is_kept(fx: Fixture) -> None:
    pinned = fx.kept("a1", {"f": b"one"})
    other = fx.kept("b2", {"g": b"two"}, key="host:/src/other")
    reuse = {"key": KEY, "base": pinned.token, "files": [["f", 3, "sig", True]]}
    assert fx.contexts.pin(Manifest.parse(json.dumps(reuse).encode())) is pinned
    deleted, _ = fx.prune()
    assert deleted == ["kept-b2"]
    assert pinned.root.is_dir() and not pinned.retired and not other.root.exists()
    assert fx.contexts.match(KEY, [("f", 3, "sig")]) == ("kept-a1", [0])  # still a base
    assert fx.contexts.unpin(pinned) == []


def test_until_keeps_what_was_written_since(fx: Fixture) -> None:
    old_ctx, new_ctx = fx.kept("a1", {"f": b"1"}), fx.kept("b2", {"f": b"2"})
    old_cache, new_cache = fx.cache("old", {"f": b"1"}), fx.cache("new", {"f": b"2"})
    age(old_ctx.root, 3)
    age(new_ctx.root / "f", 3)  # a file's own mtime does not date a kept context
    age(old_cache, 3)
    age(new_cache, 3)
    os.utime(new_cache / "f")  # a RUN wrote into it just now
    deleted, _ = fx.prune(until=time.time() - DAY)
    assert sorted(deleted) == sorted(["kept-a1", old_cache.name])
    assert new_ctx.root.is_dir() and new_cache.is_dir()


def test_keep_storage_removes_the_oldest_first_until_the_rest_fits(fx: Fixture) -> None:
    dirs = {}
    for days, ident in ((1, "newest"), (5, "oldest"), (3, "middle")):
        dirs[ident] = fx.cache(ident, {"blob": os.urandom(100_000)})
        age(dirs[ident], days)
    sizes = {ident: blocks(d, d / "blob") for ident, d in dirs.items()}
    keep = sizes["newest"] + sizes["middle"]
    deleted, reclaimed = fx.prune(keep_storage=keep)
    assert deleted == [dirs["oldest"].name] and reclaimed == sizes["oldest"]
    deleted, _ = fx.prune(keep_storage=keep - 1)
    assert deleted == [dirs["middle"].name]
    assert fx.prune(keep_storage=sizes["newest"]) == ([], 0)


def test_a_file_a_remaining_tree_shares_frees_nothing(fx: Fixture) -> None:
    older = fx.kept("a1", {"shared.bin": os.urandom(500_000), "own.txt": os.urandom(5000)})
    newer = fx.kept("b2", {"new.txt": b"n"}, links={"shared.bin": older.root / "shared.bin"})
    age(older.root, 2)
    own = blocks(older.root, older.root / "own.txt")
    deleted, reclaimed = fx.prune(until=time.time() - DAY)
    assert deleted == ["kept-a1"] and reclaimed == own
    assert (newer.root / "shared.bin").stat().st_nlink == 1
    # its last link goes with the newer tree, and is counted then
    size = blocks(newer.root, newer.root / "new.txt", newer.root / "shared.bin")
    assert fx.prune() == (["kept-b2"], size)
    assert size > 500_000


def test_keep_storage_counts_a_shared_file_once(fx: Fixture) -> None:
    older = fx.kept("a1", {"shared.bin": os.urandom(300_000)})
    newer = fx.kept("b2", {}, links={"shared.bin": older.root / "shared.bin"})
    age(older.root, 2)
    total = blocks(older.root, newer.root, older.root / "shared.bin")
    # all of it fits: nothing goes (the shared file is not counted twice)
    assert fx.prune(keep_storage=total) == ([], 0)
    # removing the older tree frees only its directory; the newer one must go too
    deleted, reclaimed = fx.prune(keep_storage=blocks(older.root))
    assert deleted == ["kept-a1", "kept-b2"] and reclaimed == total


@pytest.mark.parametrize(("filters", "message"), [
    ({"dangling": ["true"]}, "invalid filter 'dangling'"),
    ({"label": ["a=b"], "until": ["1h"]}, "invalid filter 'label'"),
    ({"until": ["yesterday"]}, "invalid filter 'until=yesterday'"),
])
def test_bad_filters_are_refused(filters: dict[str, list[str]], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        prune_options(filters)


def test_until_takes_a_duration_or_a_timestamp() -> None:
    before = time.time()
    assert abs(prune_options({"until": ["24h"]}).until - (before - DAY)) < 5
    assert prune_options({"until": ["1700000000"]}).until == 1700000000.0
    assert prune_options({"unused-for": ["2h"], "until": ["1h"]}).until < before - 7000
    assert prune_options({}, keep_storage=-5) == CachePruneOptions()
