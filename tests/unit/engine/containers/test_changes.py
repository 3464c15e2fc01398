"""docker diff from an overlay upper dir (OCI whiteouts here: no root needed)."""

from __future__ import annotations

from pathlib import Path

from berth.engine.containers.changes import Change, Kind, upper_changes
from berth.store.rootview import LayerTree


def test_added_modified_deleted_as_docker(tmp_path: Path) -> None:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    for d in ("etc", "tmp", "usr/bin", "data"):
        (lower / d).mkdir(parents=True)
    (lower / "etc" / "passwd").write_text("root")
    (lower / "usr" / "bin" / "gone").write_text("x")
    (upper / "etc").mkdir(parents=True)
    (upper / "etc" / "passwd").write_text("changed")
    (upper / "etc" / "hosts").write_text("")  # the runtime's mount point: left out
    (upper / "usr" / "bin").mkdir(parents=True)
    (upper / "usr" / "bin" / ".wh.gone").write_text("")
    (upper / "new" / "deep").mkdir(parents=True)
    (upper / "new" / "deep" / "f").write_text("f")
    (upper / "vol" / "inside").mkdir(parents=True)  # made to hold a volume: listed
    (upper / "vol" / "inside" / "hidden").write_text("v")  # under the mount: never
    (upper / "tmp").mkdir()  # copied up, nothing changed in it
    got = upper_changes(upper, LayerTree([lower]), ["/vol/inside"])
    assert got == [
        Change("/etc", Kind.MODIFIED),
        Change("/etc/passwd", Kind.MODIFIED),
        Change("/new", Kind.ADDED),
        Change("/new/deep", Kind.ADDED),
        Change("/new/deep/f", Kind.ADDED),
        Change("/usr", Kind.MODIFIED),
        Change("/usr/bin", Kind.MODIFIED),
        Change("/usr/bin/gone", Kind.DELETED),
        Change("/vol", Kind.ADDED),  # as docker's diff: "A /vol", "A /vol/inside"
        Change("/vol/inside", Kind.ADDED),
    ]


def test_only_runtime_placeholders_is_no_change(tmp_path: Path) -> None:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    (lower / "etc").mkdir(parents=True)
    (upper / "etc").mkdir(parents=True)
    for name in ("hosts", "hostname", "resolv.conf"):
        (upper / "etc" / name).write_text("")
    assert upper_changes(upper, LayerTree([lower])) == []
