"""The native runtime mounts through a descriptor checked to still be the destination
``secure_join`` resolved: a link swapped into the path meanwhile (by a container sharing
a volume mounted above it) is refused, not followed (runc's WithProcfd)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from berth.runtime.linux.rootfs import _checked


def test_the_resolved_destination_is_mounted_through_its_descriptor(tmp_path: Path) -> None:
    dest = tmp_path / "root" / "data"
    dest.mkdir(parents=True)
    with _checked(str(dest)) as target:
        assert target.startswith("/proc/self/fd/")
        assert os.readlink(target) == str(dest)


def test_a_link_swapped_in_after_resolution_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "vol").mkdir(parents=True)
    (root / "vol" / "sub").mkdir()
    dest = str(root / "vol" / "sub")  # what secure_join returned
    outside = tmp_path / "host"
    outside.mkdir()
    (root / "vol" / "sub").rmdir()
    os.symlink(outside, root / "vol" / "sub")  # the swap
    with pytest.raises(OSError) as err, _checked(dest):
        pass
    assert err.value.errno in (errno.EXDEV, errno.ELOOP)
    os.unlink(root / "vol" / "sub")
    (root / "vol").rename(tmp_path / "moved")
    os.symlink(tmp_path / "moved", root / "vol")  # a parent swapped for a link
    with pytest.raises(OSError) as err, _checked(str(root / "vol")):
        pass
    (tmp_path / "moved" / "sub").mkdir()
    with pytest.raises(OSError, match="moved to"), _checked(dest):
        pass
