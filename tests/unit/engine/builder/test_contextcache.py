"""The contexts kept between builds of the berth CLI: which files a build may reuse, the
links into the new tree, and when a generation's tree goes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os

import pytest
from tests.tarballs import entry, make_tar
from tests.trees import write

from berth.engine.builder.context import receive_context
from berth.engine.builder.contextcache import (
    BaseGone,
    ContextCache,
    FileSig,
    Manifest,
    link_reused,
    present,
)
from berth.errors import InvalidArgument

KEY = "host:/src/app"


def manifest(files: dict[str, tuple[int, str]], reused=(), base="", key=KEY) -> Manifest:
    doc = {"key": key, "base": base,
           "files": [[rel, size, sig, rel in reused] for rel, (size, sig) in files.items()]}
    return Manifest.parse(json.dumps(doc).encode())


def kept(cache: ContextCache, root, files: dict[str, bytes], sig="s1", key=KEY):
    """A generation of ``key`` whose tree holds ``files``, all with signature ``sig``."""
    digests = {}
    for rel, data in files.items():
        write(root, rel, data)
        st = os.stat(root / rel)
        digests[(st.st_dev, st.st_ino)] = hashlib.sha256(data).hexdigest()
    m = manifest({rel: (len(data), sig) for rel, data in files.items()}, key=key)
    retired = cache.keep(m, root, present(m, root), digests)
    return cache._generations[root.name], retired


@pytest.mark.parametrize("rel", ["../x", "/etc/passwd", "a/../../b", "a//b", "./a", ""])
def test_hostile_paths_in_the_manifest_are_refused(rel):
    with pytest.raises(InvalidArgument, match=r"invalid \.berth-context"):
        manifest({rel: (1, "s")})


def test_malformed_manifests_are_bad_requests():
    for raw in (b"{", b"[]", b'{"key": "k"}', b'{"key": "", "files": []}',
                b'{"key": "k", "files": [["a", 1, "s", true]]}'):  # reused, no base
        with pytest.raises(InvalidArgument):
            Manifest.parse(raw)


def test_only_files_with_the_same_size_and_signature_match(tmp_path):
    cache = ContextCache()
    assert cache.match(KEY, [("a", 1, "s1")]) == ("", [])
    gen, _ = kept(cache, tmp_path / "g1", {"a": b"A", "b/c": b"CC", "d": b"D"})
    files = [("a", 1, "s1"), ("b/c", 2, "s2"), ("d", 2, "s1"), ("new", 1, "s1"),
             ("b/c", 2, "s1")]
    assert cache.match(KEY, files) == (gen.token, [0, 4])
    assert cache.match("other:/dir", files) == ("", [])


def test_what_dockerignore_left_out_is_not_in_the_index(tmp_path):
    root = tmp_path / "g"
    write(root, "a", b"A")
    m = manifest({"a": (1, "s"), "ignored": (5, "s"), "short": (9, "s")})
    write(root, "short", b"123")
    assert present(m, root) == {"a": FileSig(1, "s")}


def test_reused_files_are_linked_with_their_digests_and_parent_mtimes(tmp_path):
    cache = ContextCache()
    gen, _ = kept(cache, tmp_path / "g1", {"d/a": b"A" * 100, "d/b": b"B"})
    new = tmp_path / "g2"
    (new / "d").mkdir(parents=True)
    os.utime(new / "d", ns=(1_000_000_000, 2_000_000_000))
    m = manifest({"d/a": (100, "s1"), "d/b": (1, "s1")}, reused=("d/a",), base=gen.token)
    assert cache.pin(m) is gen
    digests = link_reused(m, gen, new)
    st = os.stat(new / "d/a")
    assert st.st_ino == os.stat(tmp_path / "g1/d/a").st_ino
    assert digests == {(st.st_dev, st.st_ino): hashlib.sha256(b"A" * 100).hexdigest()}
    assert os.stat(new / "d").st_mtime_ns == 2_000_000_000
    assert not (new / "d/b").exists()  # not reused: the tar brings it
    assert cache.unpin(gen) == []


def test_a_reuse_the_base_does_not_hold_is_refused(tmp_path):
    cache = ContextCache()
    gen, _ = kept(cache, tmp_path / "g1", {"a": b"A"})
    (tmp_path / "g2").mkdir()
    for files in ({"a": (1, "other-sig")}, {"a": (2, "s1")}, {"zz": (1, "s1")}):
        m = manifest(files, reused=tuple(files), base=gen.token)
        with pytest.raises(BaseGone):
            link_reused(m, gen, tmp_path / "g2")
    write(tmp_path / "g2", "a", b"sent too")
    m = manifest({"a": (1, "s1")}, reused=("a",), base=gen.token)
    with pytest.raises(InvalidArgument, match="both sent and reused"):
        link_reused(m, gen, tmp_path / "g2")


def test_generations_are_retired_per_key_and_overall_but_not_while_pinned(tmp_path):
    cache = ContextCache(limit=3, per_key=2)
    g1, retired = kept(cache, tmp_path / "g1", {"a": b"A"})
    assert retired == []
    m = manifest({"a": (1, "s1")}, reused=("a",), base=g1.token)
    assert cache.pin(m) is g1
    kept(cache, tmp_path / "g2", {"a": b"A"})
    g3, retired = kept(cache, tmp_path / "g3", {"a": b"A"})
    assert retired == [] and g1.retired  # pinned: its tree stays until unpinned
    assert cache.match(KEY, [("a", 1, "s1")]) == (g3.token, [0])
    with pytest.raises(BaseGone):
        cache.pin(m)
    assert cache.unpin(g1) == [tmp_path / "g1"]
    _, retired = kept(cache, tmp_path / "o1", {"x": b"X"}, key="other")
    assert retired == []
    _, retired = kept(cache, tmp_path / "o2", {"x": b"X"}, key="other")
    assert retired == [tmp_path / "g2"]  # over the limit: the oldest of all goes


def test_receive_context_links_what_the_manifest_reuses(tmp_path):
    cache = ContextCache()
    gen, _ = kept(cache, tmp_path / "g1", {"data/big": b"x" * 70_000, "data/old": b"o"})
    tar = make_tar(entry("Dockerfile", data=b"FROM scratch\n"),
                   entry("data", b"5", mode=0o755), entry("data/new", data=b"n"),
                   entry(".dockerignore", data=b"data/old\n"))
    m = manifest({"Dockerfile": (13, "s9"), "data/big": (70_000, "s1"),
                  "data/old": (1, "s1"), "data/new": (1, "s9")},
                 reused=("data/big", "data/old"), base=gen.token)

    async def chunks():
        yield tar

    ctx = asyncio.run(receive_context(chunks(), tmp_path / "g2", reuse=(m, gen)))
    assert sorted(p.name for p in (ctx.root / "data").iterdir()) == ["big", "new"]
    big = os.stat(ctx.root / "data/big")
    assert ctx.digests[(big.st_dev, big.st_ino)] == hashlib.sha256(b"x" * 70_000).hexdigest()
    assert len(ctx.digests) == 4  # big, new, Dockerfile, .dockerignore
