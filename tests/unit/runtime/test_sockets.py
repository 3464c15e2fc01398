from __future__ import annotations

from pathlib import Path

import pytest

from berth.errors import InvalidArgument
from berth.runtime.sockets import MAX_PATH, SOCKET_DIR, check_length, socket_path


def test_socket_paths_are_short_whatever_the_owner() -> None:
    deep = Path("/") / ("d" * 200) / "containers" / ("0" * 64)
    path = socket_path(deep, "attach.sock")
    assert path.parent == SOCKET_DIR and len(str(path)) < MAX_PATH
    check_length(path)


def test_socket_paths_are_derived_from_the_owner_alone(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert socket_path(a, "shim.sock") == socket_path(tmp_path / "x" / ".." / "a", "shim.sock")
    assert socket_path(a, "shim.sock") != socket_path(b, "shim.sock")
    assert socket_path(a, "shim.sock") != socket_path(a, "attach.sock")
    b.symlink_to(a)  # the same directory, named through a link
    assert socket_path(b, "shim.sock") == socket_path(a, "shim.sock")


def test_a_path_too_long_is_refused_with_its_name_and_the_limit() -> None:
    long = "/tmp/" + "s" * 120 + "/berth.sock"
    with pytest.raises(InvalidArgument) as err:
        check_length(long, "API socket")
    assert long in err.value.message and "107 bytes" in err.value.message
