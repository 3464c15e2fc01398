"""The network records: IPAM never hands an address out twice (across reopening the
database too), host ports are reserved all or none, and what dead runs left is freed."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

from berth.errors import BerthError, Conflict
from berth.store.metadata.db import Database
from berth.store.metadata.networks import NetworkRecords, PortRequest

SUBNET = ipaddress.IPv4Network("10.9.0.0/29")


def _next(used: set[str]) -> str:
    for host in list(SUBNET.hosts())[1:]:  # .1 is the gateway
        if str(host) not in used:
            return str(host)
    raise BerthError("no address left")


def _db(tmp_path: Path) -> Database:
    return Database(tmp_path / "metadata.db")


def test_an_address_is_never_handed_out_twice_even_after_reopening(tmp_path: Path) -> None:
    db = _db(tmp_path)
    records = NetworkRecords(db)
    records.insert_network("n1", "net", "{}")
    a = records.allocate("n1", "c1", _next, "{}")
    b = records.allocate("n1", "c2", _next, "{}")
    assert a != b
    db.close()
    records = NetworkRecords(_db(tmp_path))
    c = records.allocate("n1", "c3", _next, "{}")
    assert c not in (a, b)
    with pytest.raises(Conflict):
        records.allocate("n1", "c4", lambda used: a, "{}")
    records.free_endpoint("n1", "c1")
    assert records.allocate("n1", "c4", lambda used: a, "{}") == a


def test_a_reallocation_replaces_the_containers_endpoint(tmp_path: Path) -> None:
    records = NetworkRecords(_db(tmp_path))
    records.allocate("n1", "c1", _next, "{}")
    records.allocate("n1", "c1", _next, "{}")
    assert len(records.endpoints("c1")) == 1


def _never_free(proto: str, ip: str, port: int) -> bool:
    return port % 2 == 0


def test_ports_conflict_across_containers_and_any_address(tmp_path: Path) -> None:
    records = NetworkRecords(_db(tmp_path))
    records.reserve_ports("c1", [PortRequest("tcp", "0.0.0.0", 8080, "80")], _never_free)
    with pytest.raises(Conflict, match=re.escape(
            "Bind for 127.0.0.1:8080 failed: port is already allocated")):
        records.reserve_ports("c2", [PortRequest("tcp", "127.0.0.1", 8080, "80")],
                              _never_free)
    # another proto is another port
    records.reserve_ports("c2", [PortRequest("udp", "127.0.0.1", 8080, "80")], _never_free)
    # all or none: the second request fails, the first is not kept
    with pytest.raises(Conflict):
        records.reserve_ports("c3", [PortRequest("tcp", "127.0.0.2", 9000, "80"),
                                     PortRequest("tcp", "0.0.0.0", 8080, "81")],
                              _never_free)
    assert records.ports("c3") == []


def test_a_port_0_takes_the_first_candidate_neither_held_nor_busy(tmp_path: Path) -> None:
    records = NetworkRecords(_db(tmp_path))
    records.reserve_ports("c1", [PortRequest("tcp", "0.0.0.0", 40000, "80")], _never_free)
    rows = records.reserve_ports(
        "c2", [PortRequest("tcp", "0.0.0.0", 0, "80", range(40000, 40010))], _never_free)
    assert rows[0].host_port == 40002  # 40000 held, 40001 busy


def test_keep_only_frees_what_containers_not_running_left(tmp_path: Path) -> None:
    records = NetworkRecords(_db(tmp_path))
    records.allocate("n1", "c1", _next, "{}")
    records.allocate("n1", "c2", _next, "{}")
    records.reserve_ports("c2", [PortRequest("tcp", "0.0.0.0", 8080, "80")], _never_free)
    assert records.keep_only({"c1"}) == 2
    assert [r.container_id for r in records.endpoints()] == ["c1"]
    assert records.ports() == []
