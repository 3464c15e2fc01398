"""berth.net.ipam: subnets picked from pools, user pools checked, addresses handed out
round-robin."""

from __future__ import annotations

from ipaddress import IPv4Address as A
from ipaddress import IPv4Network as N

import pytest

from berth.errors import InvalidArgument, Unavailable
from berth.net import ipam


def test_pool_without_size_is_the_network_itself() -> None:
    assert ipam.pick_subnet(["172.18.0.0/16"], []) == N("172.18.0.0/16")


def test_pool_with_size_is_split_in_order_skipping_taken() -> None:
    taken = [N("172.16.0.0/16"), N("172.17.5.0/24")]
    assert ipam.pick_subnet(["172.16.0.0/14:16"], taken) == N("172.18.0.0/16")


def test_unaligned_base_is_taken_as_its_network() -> None:
    assert ipam.pick_subnet(["172.19.0.0/14:16"], []) == N("172.16.0.0/16")


def test_later_pool_used_when_first_is_full() -> None:
    taken = [N("10.0.0.0/8")]
    assert ipam.pick_subnet(["10.1.0.0/16", "192.168.0.0/20:24"],
                            taken) == N("192.168.0.0/24")


def test_a_wider_taken_route_rules_out_every_candidate_inside() -> None:
    with pytest.raises(Unavailable, match="non-overlapping IPv4 address pool"):
        ipam.pick_subnet(["172.20.0.0/14:16"], [N("172.16.0.0/12")])


def test_bad_pool_entry_is_invalid() -> None:
    with pytest.raises(InvalidArgument):
        ipam.pick_subnet(["172.20.0.0/16:8"], [])


def test_overlaps() -> None:
    assert ipam.overlaps(N("10.0.0.0/8"), N("10.1.2.0/24"))
    assert ipam.overlaps(N("10.1.2.0/24"), N("10.0.0.0/8"))
    assert not ipam.overlaps(N("10.1.2.0/24"), N("10.1.3.0/24"))


def test_check_pool_defaults_gateway_to_first_host() -> None:
    assert ipam.check_pool("10.88.1.0/24", "", "") == (N("10.88.1.0/24"), A("10.88.1.1"),
                                                      None)


def test_check_pool_with_gateway_and_range() -> None:
    assert ipam.check_pool("10.88.0.0/16", "10.88.0.254", "10.88.5.0/24") == (
        N("10.88.0.0/16"), A("10.88.0.254"), N("10.88.5.0/24"))


@pytest.mark.parametrize("subnet,gateway,ip_range,message", [
    ("10.88.1.0", "", "", "invalid CIDR address: 10.88.1.0"),
    ("nonsense/24", "", "", "invalid CIDR address: nonsense/24"),
    ("fd00::/64", "", "", "invalid CIDR address: fd00::/64"),
    ("10.88.1.5/24", "", "", "invalid subnet 10.88.1.5/24 : it should be 10.88.1.0/24"),
    ("10.88.1.0/24", "10.88.2.1", "", "no matching subnet for gateway 10.88.2.1"),
    ("10.88.1.0/24", "x", "", "invalid gateway address: x"),
    ("10.88.1.0/24", "", "10.88.0.0/16", "no matching subnet for range 10.88.0.0/16"),
])
def test_check_pool_refusals(subnet: str, gateway: str, ip_range: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        ipam.check_pool(subnet, gateway, ip_range)
    assert err.value.message == message


def test_next_address_skips_network_gateway_and_used() -> None:
    net = N("10.0.0.0/29")
    assert ipam.next_address(net, None, A("10.0.0.1"), []) == A("10.0.0.2")
    assert ipam.next_address(net, None, A("10.0.0.1"), [A("10.0.0.2")]) == A("10.0.0.3")


def test_next_address_never_gives_broadcast_and_reports_exhaustion() -> None:
    net = N("10.0.0.0/30")
    used = [A("10.0.0.2")]
    with pytest.raises(Unavailable, match="no available IPv4 addresses"):
        ipam.next_address(net, None, A("10.0.0.1"), used)


def test_next_address_is_round_robin_after_the_last_given() -> None:
    net = N("10.0.0.0/29")  # hosts .1-.6, gateway .1
    gw = A("10.0.0.1")
    # .2 was just freed: the search continues after .4, so .5 comes before .2
    assert ipam.next_address(net, None, gw, [A("10.0.0.3"), A("10.0.0.4")],
                             after=A("10.0.0.4")) == A("10.0.0.5")
    # at the end it wraps around to the start
    assert ipam.next_address(net, None, gw, [A("10.0.0.3")],
                             after=A("10.0.0.6")) == A("10.0.0.2")


def test_next_address_stays_in_the_range() -> None:
    net = N("10.0.0.0/24")
    got = ipam.next_address(net, N("10.0.0.128/25"), A("10.0.0.1"), [A("10.0.0.128")])
    assert got == A("10.0.0.129")
    # the subnet's broadcast is excluded even when the range ends there
    full = [A(f"10.0.0.{i}") for i in range(128, 255)]
    with pytest.raises(Unavailable):
        ipam.next_address(net, N("10.0.0.128/25"), A("10.0.0.1"), full)


def test_next_address_in_a_big_subnet_is_quick() -> None:
    net = N("10.0.0.0/8")
    used = [A(int(A("10.0.0.2")) + i) for i in range(10000)]
    assert ipam.next_address(net, None, A("10.0.0.1"), used) == A(int(A("10.0.0.2")) + 10000)
