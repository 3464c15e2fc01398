"""--userns-remap's ranges (engine/userns.py): /etc/subuid parsing, moby's mapping onto
container ids from 0, the next free range, and the spec option."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.engine.userns import (
    IdRange,
    Remap,
    mapping,
    next_free,
    parse_subids,
    resolve,
    user_namespace,
)
from berth.errors import InvalidArgument
from berth.runtime import spec as runtime_spec

SUBUID = """\
# comment
alice:100000:65536
1001:300000:1000
bob:165536:65536
alice:400000:10
broken line
"""


def test_ranges_of_a_name_or_its_uid_in_file_order() -> None:
    assert parse_subids(SUBUID, "alice", 1000) == [(100000, 65536), (400000, 10)]
    assert parse_subids(SUBUID, "carol", 1001) == [(300000, 1000)]
    assert parse_subids(SUBUID, "nobody", 9) == []


def test_ranges_map_onto_consecutive_container_ids() -> None:
    assert mapping([(100000, 65536), (400000, 10)]) == (
        IdRange(0, 100000, 65536), IdRange(65536, 400000, 10))


def test_next_free_skips_taken_ranges() -> None:
    assert next_free("") == 100000
    assert next_free(SUBUID) == 231072  # after alice's and bob's, clear of 300000
    assert next_free("x:100000:1\n") == 100001


def test_remap_translates_ids() -> None:
    r = Remap("u", "g", mapping([(100000, 10), (500000, 10)]), mapping([(200000, 20)]))
    assert r.root == (100000, 200000)
    assert r.host_uid(12) == 500002 and r.host_gid(3) == 200003


def test_resolve_refuses_like_moby() -> None:
    with pytest.raises(InvalidArgument, match="Invalid user/group specification"):
        resolve("a:b:c")
    with pytest.raises(InvalidArgument, match='Error during uid lookup for "no-such-user-x"'):
        resolve("no-such-user-x")
    assert resolve("root") == ("root", "root")
    assert resolve("0:0") == ("root", "root")


def test_spec_option_joins_the_bound_namespace_with_the_maps() -> None:
    r = Remap("u", "g", (IdRange(0, 100000, 65536),), (IdRange(0, 200000, 65536),))
    spec = runtime_spec.generate(Path("/rootfs"), [user_namespace(r, Path("/x/userns/c"))])
    user = [n for n in spec["linux"]["namespaces"] if n["type"] == "user"]
    assert user == [{"type": "user", "path": "/x/userns/c"}]
    assert spec["linux"]["uidMappings"] == [
        {"containerID": 0, "hostID": 100000, "size": 65536}]
    assert spec["linux"]["gidMappings"] == [
        {"containerID": 0, "hostID": 200000, "size": 65536}]
