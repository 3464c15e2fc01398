"""The builder's work directory: what a daemon stopped mid-build left is removed at the next
start, and the persistent RUN --mount=type=cache directories are kept."""

from __future__ import annotations

from berth.engine.builder.builder import _remove_stale


def test_stale_per_build_trees_go_and_the_cache_stays(tmp_path):
    for name in ("context-1a2b", "mounts-1a2b", "secrets-1a2b", "kept-3c4d", "cache/abc"):
        (tmp_path / name).mkdir(parents=True)
        (tmp_path / name / "f").write_bytes(b"x")
    (tmp_path / "context-1a2b.tar").write_bytes(b"spool")
    _remove_stale(tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == \
        ["cache", "cache/abc", "cache/abc/f"]


def test_a_missing_work_root_is_fine(tmp_path):
    _remove_stale(tmp_path / "absent")
