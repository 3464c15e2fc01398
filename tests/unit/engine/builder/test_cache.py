"""The cache key: parent image + created_by (+ history depth), probed among the parent's
children as docker's classic builder does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from berth.engine.builder.cache import CacheKey, cache_sources, probe
from berth.store.content import ContentStore
from berth.store.metadata.db import Database
from berth.store.metadata.images import ImageRecord, ImageStore


@pytest.fixture
def stores(tmp_path: Path) -> tuple[ImageStore, ContentStore]:
    return ImageStore(Database(tmp_path / "m.db")), ContentStore(tmp_path)


def _image(stores: tuple[ImageStore, ContentStore], parent: str, created_by: list[str],
           created: str = "2024-01-01T00:00:00Z") -> str:
    store, content = stores
    config = {"architecture": "amd64", "os": "linux", "created": created,
              "rootfs": {"type": "layers", "diff_ids": []},
              "history": [{"created": created, "created_by": c} for c in created_by]}
    blob = content.write_blob(json.dumps(config).encode())
    store.put_image(ImageRecord(blob.digest, blob.digest, None, created, 0, parent), [],
                    [blob.digest])
    return blob.digest


def test_hit_needs_same_parent_text_and_depth(stores: tuple[ImageStore, ContentStore]) -> None:
    base = _image(stores, "", ["base"])
    child = _image(stores, base, ["base", "/bin/sh -c #(nop)  ENV A=1"])
    store, content = stores
    assert probe(store, content, CacheKey(base, "/bin/sh -c #(nop)  ENV A=1", 1)) == child
    assert probe(store, content, CacheKey(base, "/bin/sh -c #(nop)  ENV A=2", 1)) is None
    assert probe(store, content, CacheKey(child, "/bin/sh -c #(nop)  ENV A=1", 2)) is None
    # a build arg RUN sees is part of the text, so another value is another key
    run = _image(stores, child, ["base", "/bin/sh -c #(nop)  ENV A=1", "|1 V=1 /bin/sh -c x"])
    assert probe(store, content, CacheKey(child, "|1 V=1 /bin/sh -c x", 2)) == run
    assert probe(store, content, CacheKey(child, "|1 V=2 /bin/sh -c x", 2)) is None


def test_scratch_stage_matches_only_single_entry_images(
        stores: tuple[ImageStore, ContentStore]) -> None:
    store, content = stores
    _image(stores, "", ["something", "COPY file:1 in / "])  # a pulled image: not a child
    made = _image(stores, "", ["/bin/sh -c #(nop) COPY file:1 in / "])
    assert probe(store, content, CacheKey("", "/bin/sh -c #(nop) COPY file:1 in / ", 0)) == made


def test_newest_match_wins(stores: tuple[ImageStore, ContentStore]) -> None:
    base = _image(stores, "", ["base"])
    _image(stores, base, ["base", "x"], created="2024-01-01T00:00:00Z")
    newer = _image(stores, base, ["base", "x"], created="2024-02-01T00:00:00Z")
    store, content = stores
    assert probe(store, content, CacheKey(base, "x", 1)) == newer


def test_cache_from_takes_only_the_sources_and_their_parents(
        stores: tuple[ImageStore, ContentStore]) -> None:
    store, content = stores
    base = _image(stores, "", ["base"])
    env = _image(stores, base, ["base", "env"])
    run = _image(stores, env, ["base", "env", "run"])
    other = _image(stores, base, ["base", "other"])
    assert cache_sources(store, [run]) == {run, env, base}
    assert cache_sources(store, [run, other, "sha256:gone"]) == {run, env, base, other,
                                                                 "sha256:gone"}
    sources = cache_sources(store, [run])
    assert probe(store, content, CacheKey(base, "env", 1), sources) == env
    assert probe(store, content, CacheKey(env, "run", 2), sources) == run
    assert probe(store, content, CacheKey(base, "other", 1), sources) is None
    assert probe(store, content, CacheKey(base, "other", 1)) == other  # no --cache-from
    assert probe(store, content, CacheKey(base, "env", 1), frozenset()) is None


def test_cache_from_skips_a_newer_match_outside_the_sources(
        stores: tuple[ImageStore, ContentStore]) -> None:
    store, content = stores
    base = _image(stores, "", ["base"])
    listed = _image(stores, base, ["base", "x"], created="2024-01-01T00:00:00Z")
    _image(stores, base, ["base", "x"], created="2024-02-01T00:00:00Z")
    assert probe(store, content, CacheKey(base, "x", 1), cache_sources(store, [listed])) \
        == listed
