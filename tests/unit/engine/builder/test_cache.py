"""The cache key: parent image + created_by (+ history depth), probed among the parent's
children as docker's classic builder does."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.engine.builder.cache import CacheKey, cache_sources, probe
from berth.engine.images.service import ImageService
from berth.oci.image import ImageConfig
from berth.store.metadata.db import Database
from berth.store.snapshots.native import NativeSnapshotter


@pytest.fixture
def images(tmp_path: Path) -> ImageService:
    """The real image service, which the builder sees as an ``ImageLookup``."""
    return ImageService(tmp_path, Database(tmp_path / "m.db"),
                        NativeSnapshotter(tmp_path / "snapshots"))


def _image(images: ImageService, parent: str, created_by: list[str],
           created: str = "2024-01-01T00:00:00Z") -> str:
    config: ImageConfig = {
        "architecture": "amd64", "os": "linux", "created": created,
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [{"created": created, "created_by": c} for c in created_by]}
    return images.create_image(config, [], [], [], parent=parent).id


def test_hit_needs_same_parent_text_and_depth(images: ImageService) -> None:
    base = _image(images, "", ["base"])
    child = _image(images, base, ["base", "/bin/sh -c #(nop)  ENV A=1"])
    assert probe(images, CacheKey(base, "/bin/sh -c #(nop)  ENV A=1", 1)) == child
    assert probe(images, CacheKey(base, "/bin/sh -c #(nop)  ENV A=2", 1)) is None
    assert probe(images, CacheKey(child, "/bin/sh -c #(nop)  ENV A=1", 2)) is None
    # a build arg RUN sees is part of the text, so another value is another key
    run = _image(images, child, ["base", "/bin/sh -c #(nop)  ENV A=1", "|1 V=1 /bin/sh -c x"])
    assert probe(images, CacheKey(child, "|1 V=1 /bin/sh -c x", 2)) == run
    assert probe(images, CacheKey(child, "|1 V=2 /bin/sh -c x", 2)) is None


def test_scratch_stage_matches_only_single_entry_images(
        images: ImageService) -> None:
    _image(images, "", ["something", "COPY file:1 in / "])  # a pulled image: not a child
    made = _image(images, "", ["/bin/sh -c #(nop) COPY file:1 in / "])
    assert probe(images, CacheKey("", "/bin/sh -c #(nop) COPY file:1 in / ", 0)) == made


def test_newest_match_wins(images: ImageService) -> None:
    base = _image(images, "", ["base"])
    _image(images, base, ["base", "x"], created="2024-01-01T00:00:00Z")
    newer = _image(images, base, ["base", "x"], created="2024-02-01T00:00:00Z")
    assert probe(images, CacheKey(base, "x", 1)) == newer


def test_cache_from_takes_only_the_sources_and_their_parents(
        images: ImageService) -> None:
    base = _image(images, "", ["base"])
    env = _image(images, base, ["base", "env"])
    run = _image(images, env, ["base", "env", "run"])
    other = _image(images, base, ["base", "other"])
    assert cache_sources(images, [run]) == {run, env, base}
    assert cache_sources(images, [run, other, "sha256:gone"]) == {run, env, base, other,
                                                                 "sha256:gone"}
    sources = cache_sources(images, [run])
    assert probe(images, CacheKey(base, "env", 1), sources) == env
    assert probe(images, CacheKey(env, "run", 2), sources) == run
    assert probe(images, CacheKey(base, "other", 1), sources) is None
    assert probe(images, CacheKey(base, "other", 1)) == other  # no --cache-from
    assert probe(images, CacheKey(base, "env", 1), frozenset()) is None


def test_cache_from_skips_a_newer_match_outside_the_sources(
        images: ImageService) -> None:
    base = _image(images, "", ["base"])
    listed = _image(images, base, ["base", "x"], created="2024-01-01T00:00:00Z")
    _image(images, base, ["base", "x"], created="2024-02-01T00:00:00Z")
    assert probe(images, CacheKey(base, "x", 1), cache_sources(images, [listed])) \
        == listed
