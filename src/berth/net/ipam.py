"""Address arithmetic, pure and without I/O: which subnet a new network gets, whether two
subnets overlap, what a user's ``--subnet/--gateway/--ip-range`` means, and the next free
address of a network. What is taken is the caller's to say (the metadata store keeps the
addresses in use, so IPAM survives restarts and never hands one out twice).

A pool entry is docker's ``default-address-pools`` item written ``base/len:size``::

    "172.18.0.0/16"       the /16 itself
    "172.19.0.0/14:16"    172.19.0.0/16 is not aligned to /14: the base is taken as its
    "10.0.0.0/8:24"        /14 (172.16.0.0/14) and split in /16s, in order, and so on
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterator, Sequence
from ipaddress import IPv4Address, IPv4Network

from berth.errors import InvalidArgument, Unavailable

NO_POOL = ("could not find an available, non-overlapping IPv4 address pool among the "
           "defaults to assign to the network")
NO_ADDRESS = "no available IPv4 addresses on this network's address pools"


def _pool_candidates(entry: str) -> Iterator[IPv4Network]:
    base, _, size = entry.partition(":")
    try:
        pool = ipaddress.IPv4Network(base.strip(), strict=False)
        new_prefix = int(size) if size else pool.prefixlen
        if new_prefix < pool.prefixlen:
            raise ValueError(f"size {new_prefix} is larger than the pool")
        yield from pool.subnets(new_prefix=new_prefix)
    except ValueError as err:
        raise InvalidArgument(f"invalid address pool {entry!r}: {err}") from err


def pick_subnet(pools: Sequence[str], taken: Sequence[IPv4Network]) -> IPv4Network:
    """The first candidate of ``pools`` (in order) that overlaps nothing in ``taken``."""
    for entry in pools:
        for candidate in _pool_candidates(entry):
            if not any(overlaps(candidate, t) for t in taken):
                return candidate
    raise Unavailable(NO_POOL)


def overlaps(a: IPv4Network, b: IPv4Network) -> bool:
    return a.overlaps(b)


def check_pool(subnet: str, gateway: str,
               ip_range: str) -> tuple[IPv4Network, IPv4Address, IPv4Network | None]:
    """Parse a user's ``--subnet``, ``--gateway`` and ``--ip-range`` as docker does: the
    gateway defaults to the subnet's first host; the range (None when not given) and the
    gateway must lie in the subnet."""
    net = _network(subnet)
    if gateway:
        try:
            gw = IPv4Address(gateway)
        except ValueError as err:
            raise InvalidArgument(f"invalid gateway address: {gateway}") from err
        if gw not in net:
            raise InvalidArgument(f"no matching subnet for gateway {gateway}")
    else:
        if net.num_addresses < 2:
            raise InvalidArgument(f"subnet {subnet} has no room for a gateway")
        gw = net.network_address + 1
    range_ = None
    if ip_range:
        range_ = _network(ip_range)
        if not range_.subnet_of(net):
            raise InvalidArgument(f"no matching subnet for range {ip_range}")
    return net, gw, range_


def _network(text: str) -> IPv4Network:
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as err:
        raise InvalidArgument(f"invalid CIDR address: {text}") from err
    if not isinstance(net, IPv4Network) or "/" not in text:
        raise InvalidArgument(f"invalid CIDR address: {text}")
    if str(net.network_address) != text.strip().split("/")[0]:
        raise InvalidArgument(f"invalid subnet {text} : it should be {net}")
    return net


def next_address(subnet: IPv4Network, ip_range: IPv4Network | None,
                 gateway: IPv4Address | None, used: Collection[IPv4Address],
                 after: IPv4Address | None = None) -> IPv4Address:
    """The next free host address of ``ip_range`` (default: the whole subnet), never the
    network or broadcast address or the gateway, searching round-robin from just past
    ``after`` (as docker does, so a just-freed address is not reused at once)."""
    scope = ip_range or subnet
    first, last = int(scope.network_address), int(scope.broadcast_address)
    if subnet.prefixlen < 31:  # /31 and /32 have no network or broadcast address
        first = max(first, int(subnet.network_address) + 1)
        last = min(last, int(subnet.broadcast_address) - 1)
    taken = {int(a) for a in used}
    if gateway is not None:
        taken.add(int(gateway))
    start = first
    if after is not None and first <= int(after) < last:
        start = int(after) + 1
    for value in _round_robin(first, last, start):
        if value not in taken:
            return IPv4Address(value)
    raise Unavailable(NO_ADDRESS)


def _round_robin(first: int, last: int, start: int) -> Iterator[int]:
    yield from range(start, last + 1)
    yield from range(first, start)
