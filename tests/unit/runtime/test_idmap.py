"""The idmap options a remapped container's rootfs mounts carry (runtime/idmap.py)."""

from __future__ import annotations

import pytest

from berth.errors import BerthError
from berth.oci.mount import Mount
from berth.runtime import idmap


def test_kernel_map_is_one_line_a_range() -> None:
    assert idmap.kernel_map("0:100000:65536,65536:300000:10") == (
        b"0 100000 65536\n65536 300000 10\n")
    with pytest.raises(BerthError, match="container:host:size"):
        idmap.kernel_map("0:1")


def test_rootfs_maps_only_for_a_spec_with_a_mapped_user_namespace() -> None:
    maps = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    spec: dict[str, object] = {"linux": {"namespaces": [{"type": "user", "path": "/u"}],
                                         "uidMappings": maps, "gidMappings": maps}}
    assert idmap.rootfs_maps(spec) == ("uidmap=0:100000:65536", "gidmap=0:100000:65536")
    assert idmap.rootfs_maps({"linux": {"namespaces": [{"type": "pid"}]}}) is None
    assert idmap.rootfs_maps({"linux": {"namespaces": [{"type": "user"}]}}) is None


def test_with_maps_adds_the_options() -> None:
    m = idmap.with_maps(Mount("overlay", "overlay", ("lowerdir=/a",)), ("uidmap=x", "gidmap=y"))
    assert m.options == ("lowerdir=/a", "uidmap=x", "gidmap=y") and idmap.is_idmapped(m)
