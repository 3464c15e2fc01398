from __future__ import annotations

from pathlib import Path

import pytest

from berth.errors import InvalidArgument
from berth.oci.mount import Mount
from berth.runtime.shim import ExitStatus, ShimOptions
from berth.runtime.shim.protocol import (
    EXIT_FILE,
    exit_to_json,
    options_from_json,
    options_to_json,
    read_exit_status,
    window_size,
    write_atomic,
)


def test_options_round_trip() -> None:
    opts = ShimOptions(container_id="c1", bundle=Path("/b"),
                       rootfs_mounts=(Mount("overlay", "overlay", ("lowerdir=/l",)),),
                       state_dir=Path("/s"), log_path=None, runtime="runc", tty=True,
                       open_stdin=True, stdin_once=True)
    assert options_from_json(options_to_json(opts)) == opts


def test_exit_status_is_read_back(tmp_path: Path) -> None:
    assert read_exit_status(tmp_path) is None
    status = ExitStatus(exit_code=137, oom_killed=True, finished_at=1.5)
    import json

    write_atomic(tmp_path / EXIT_FILE, json.dumps(exit_to_json(status)).encode())
    assert read_exit_status(tmp_path) == status
    assert sorted(p.name for p in tmp_path.iterdir()) == [EXIT_FILE]


def test_window_size_takes_what_a_winsize_holds() -> None:
    assert window_size({"height": 0, "width": 65535}) == (0, 65535)
    for bad in ({"height": 65536, "width": 80}, {"height": 24, "width": -1},
                {"height": "24", "width": 80}, {"height": 24.0, "width": 80},
                {"height": True, "width": 80}, {"width": 80}):
        with pytest.raises(InvalidArgument, match="invalid resize"):
            window_size(bad)
