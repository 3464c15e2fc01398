"""docker commit's pure parts: the config merge, the reference, the upper dir's clone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from berth.engine.containers.commit import clone_tree, merge, reference
from berth.engine.images.changes import apply_changes
from berth.errors import InvalidArgument
from berth.oci.image import ContainerConfig


def test_merge_fills_what_the_request_leaves_unset() -> None:
    base = ContainerConfig(Env=["PATH=/bin", "A=1"], Cmd=["sh"], User="nobody",
                           Labels={"a": "1"}, ExposedPorts={"80/tcp": {}}, WorkingDir="/w")
    user = apply_changes(ContainerConfig(), ["ENV A=2", "LABEL b=2", "EXPOSE 81"])
    out = merge(user, base)
    assert out["Env"] == ["A=2", "PATH=/bin"]
    assert out["Labels"] == {"a": "1", "b": "2"}
    assert set(out["ExposedPorts"]) == {"80/tcp", "81/tcp"}
    assert out["Cmd"] == ["sh"] and out["User"] == "nobody" and out["WorkingDir"] == "/w"
    assert merge(ContainerConfig(Entrypoint=["top"]), base).get("Cmd") is None


def test_reference_as_docker() -> None:
    assert reference("", "v1") is None
    ref = reference("example/app", "")
    assert ref is not None and ref.string() == "docker.io/example/app:latest"
    with pytest.raises(InvalidArgument):
        reference("Bad Name", "")


def test_clone_links_files_and_copies_dirs(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "d").mkdir(parents=True)
    (src / "d" / "f").write_text("x")
    os.symlink("/etc/passwd", src / "d" / "l")
    os.chmod(src / "d", 0o711)
    dst.mkdir()
    clone_tree(src, dst)
    assert os.path.samefile(src / "d" / "f", dst / "d" / "f")
    assert os.readlink(dst / "d" / "l") == "/etc/passwd"
    assert (dst / "d").stat().st_mode & 0o777 == 0o711
    assert not os.path.samestat(os.stat(src / "d"), os.stat(dst / "d"))
