"""The conformance suite of ``NetworkBackend`` (containerd's ``testsuite`` habit): what
the network and container routes rely on, and its errors.

``test_fakes.py`` runs it against ``FakeNetworks``; the engine runs it against the real
``NetworkService`` (with the container service it is bound to), so a fake that passes
here behaves like the engine where the route tests lean on it. A subclass provides
``open_backends``; each case runs in a loop of its own with fresh backends.

Subnets are the suite's own (``10.213.x.0/24``): a host's routes never use them in CI,
and the real service refuses one that overlaps a route, as it must. Containers run
``sleep 300`` (which the fake and busybox both understand) only where a case needs a
live endpoint.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pytest
from tests.unit.api.server.suite import BackendSuite

from berth.api.server.backend import ContainerBackend, NetworkBackend
from berth.engine.containers.model import ContainerSpec, EndpointConfig, PortBinding
from berth.engine.networks.model import IpamPool, NetworkCreate
from berth.errors import BerthError, Conflict, Forbidden, InvalidArgument, NotFound

SUBNET = "10.213.1.0/24"


@dataclass(frozen=True)
class NetworkBackends:
    networks: NetworkBackend
    containers: ContainerBackend
    image: str  # an image with ``sleep`` (busybox for the real one)
    prefix: str  # for network names: the real run's must not clash with anything else

    def sleeper(self, **fields: object) -> ContainerSpec:
        return ContainerSpec(image=self.image, cmd=("sleep", "300"), **fields)  # type: ignore[arg-type]


class NetworkBackendSuite(BackendSuite[NetworkBackends]):
    def test_the_predefined_networks_exist(self) -> None:
        async def case(b: NetworkBackends) -> None:
            drivers = {n.name: n.driver for n in b.networks.list()}
            assert {k: drivers.get(k) for k in ("bridge", "host", "none")} == {
                "bridge": "bridge", "host": "host", "none": "null"}
            bridge = b.networks.get("bridge")
            assert bridge.predefined and bridge.pools and bridge.pools[0].gateway
            assert b.networks.get(bridge.id) == bridge

        self.run(case)

    def test_create_picks_a_subnet_and_is_found_by_name_id_and_prefix(self) -> None:
        async def case(b: NetworkBackends) -> None:
            n = await b.networks.create(NetworkCreate(
                f"{b.prefix}a", labels=(("k", "v"),), internal=True))
            assert len(n.id) == 64 and n.driver == "bridge" and n.scope == "local"
            assert n.labels == (("k", "v"),) and n.internal and not n.predefined
            subnet = ipaddress.IPv4Network(n.pools[0].subnet)
            assert ipaddress.IPv4Address(n.pools[0].gateway) in subnet
            for ref in (n.name, n.id, n.id[:12]):
                assert b.networks.get(ref) == n
            assert n.id in [x.id for x in b.networks.list()]
            other = await b.networks.create(NetworkCreate(f"{b.prefix}b"))
            assert not ipaddress.IPv4Network(other.pools[0].subnet).overlaps(subnet)

        self.run(case)

    def test_a_given_subnet_is_kept_and_an_overlapping_one_is_refused(self) -> None:
        async def case(b: NetworkBackends) -> None:
            n = await b.networks.create(NetworkCreate(
                f"{b.prefix}a", pools=(IpamPool(SUBNET, "10.213.1.254"),)))
            assert (n.pools[0].subnet, n.pools[0].gateway) == (SUBNET, "10.213.1.254")
            with pytest.raises(Forbidden, match="Pool overlaps"):
                await b.networks.create(NetworkCreate(
                    f"{b.prefix}b", pools=(IpamPool("10.213.0.0/16"),)))
            with pytest.raises(InvalidArgument):
                await b.networks.create(NetworkCreate(
                    f"{b.prefix}c", pools=(IpamPool("10.213.2.0/24", "10.9.9.9"),)))
            with pytest.raises(InvalidArgument):
                await b.networks.create(NetworkCreate(
                    f"{b.prefix}d", pools=(IpamPool("not-a-subnet"),)))

        self.run(case)

    def test_create_refusals(self) -> None:
        async def case(b: NetworkBackends) -> None:
            await b.networks.create(NetworkCreate(f"{b.prefix}a"))
            with pytest.raises(Conflict, match=f"network with name {b.prefix}a already"):
                await b.networks.create(NetworkCreate(f"{b.prefix}a"))
            with pytest.raises(Forbidden, match="only one instance"):
                await b.networks.create(NetworkCreate(f"{b.prefix}h", driver="host"))
            with pytest.raises(NotFound, match="plugin"):
                await b.networks.create(NetworkCreate(f"{b.prefix}o", driver="overlay"))
            with pytest.raises(InvalidArgument):
                await b.networks.create(NetworkCreate(f"{b.prefix}6", enable_ipv6=True))

        self.run(case)

    def test_unknown_references_are_not_found(self) -> None:
        async def case(b: NetworkBackends) -> None:
            with pytest.raises(NotFound, match=f"network {b.prefix}nope not found"):
                b.networks.get(f"{b.prefix}nope")
            with pytest.raises(NotFound):
                await b.networks.remove(f"{b.prefix}nope")
            c = await b.containers.create(None, b.sleeper())
            with pytest.raises(NotFound):
                await b.networks.connect(f"{b.prefix}nope", c.id, EndpointConfig(""))
            with pytest.raises(NotFound):
                await b.networks.connect("bridge", f"{b.prefix}nocontainer",
                                         EndpointConfig(""))

        self.run(case)

    def test_remove(self) -> None:
        async def case(b: NetworkBackends) -> None:
            for name in ("bridge", "host", "none"):
                with pytest.raises(Forbidden, match="pre-defined network"):
                    await b.networks.remove(name)
            n = await b.networks.create(NetworkCreate(f"{b.prefix}a"))
            await b.networks.remove(n.id[:12])
            with pytest.raises(NotFound):
                b.networks.get(n.id)

        self.run(case)

    def test_a_network_with_a_running_container_cannot_be_removed(self) -> None:
        async def case(b: NetworkBackends) -> None:
            n = await b.networks.create(NetworkCreate(f"{b.prefix}a"))
            c = await b.containers.create(None, b.sleeper(network_mode=n.name))
            await b.containers.start(c.id)
            try:
                with pytest.raises(Conflict, match="has active endpoints"):
                    await b.networks.remove(n.name)
                report = await b.networks.prune([], None)
                assert n.name not in report.deleted
            finally:
                await b.containers.remove(c.id, force=True)
            await b.networks.remove(n.name)

        self.run(case)

    def test_connect_and_disconnect_a_created_container(self) -> None:
        async def case(b: NetworkBackends) -> None:
            n = await b.networks.create(NetworkCreate(f"{b.prefix}a"))
            c = await b.containers.create(None, b.sleeper())
            await b.networks.connect(n.name, c.name, EndpointConfig(
                n.name, aliases=("api",), links=((c.name, "self"),)))
            view = b.networks.container_network(b.containers.get(c.id))
            assert [e.network_name for e in view.endpoints] == ["bridge", n.name]
            joined = view.endpoints[1]
            assert (joined.network_id, joined.aliases, joined.links) == (
                n.id, ("api",), ((c.name, "self"),))
            assert joined.ip_address == "" and joined.endpoint_id == ""  # not running
            assert [cid for cid, _ in b.networks.attached(n.id)] == [c.id]
            with pytest.raises(Forbidden, match="already exists in network"):
                await b.networks.connect(n.id, c.id, EndpointConfig(n.id))
            await b.networks.disconnect(n.id, c.id)
            assert b.networks.attached(n.id) == []
            with pytest.raises(BerthError, match="is not connected"):
                await b.networks.disconnect(n.id, c.id)

        self.run(case)

    def test_host_and_none_cannot_be_connected(self) -> None:
        async def case(b: NetworkBackends) -> None:
            c = await b.containers.create(None, b.sleeper())
            for name in ("host", "none"):
                with pytest.raises(Forbidden):
                    await b.networks.connect(name, c.id, EndpointConfig(name))
            h = await b.containers.create(None, b.sleeper(network_mode="host"))
            with pytest.raises(Forbidden, match="host network"):
                await b.networks.connect("bridge", h.id, EndpointConfig("bridge"))

        self.run(case)

    def test_prune_removes_unused_user_networks_matching_the_labels(self) -> None:
        async def case(b: NetworkBackends) -> None:
            keep = await b.networks.create(NetworkCreate(f"{b.prefix}keep"))
            gone = await b.networks.create(NetworkCreate(f"{b.prefix}gone",
                                                         labels=(("suite", "1"),)))
            assert (await b.networks.prune(["suite=2"], None)).deleted == ()
            report = await b.networks.prune(["suite"], None)
            assert report.deleted == (gone.name,)
            report = await b.networks.prune(["suite!=1"], 0.0)  # created after: kept
            assert report.deleted == ()
            assert b.networks.get(keep.id) == keep
            assert {"bridge", "host", "none"} <= {n.name for n in b.networks.list()}

        self.run(case)

    def test_container_network_of_created_and_running_containers(self) -> None:
        async def case(b: NetworkBackends) -> None:
            n = await b.networks.create(NetworkCreate(
                f"{b.prefix}a", pools=(IpamPool(SUBNET),)))
            c = await b.containers.create(None, b.sleeper(
                network_mode=n.name, exposed_ports=("81/tcp",),
                endpoints=(EndpointConfig(n.name, aliases=("web",),
                                          ipv4_address="10.213.1.50"),),
                port_bindings=(PortBinding(80, host_ip="127.0.0.1"),)))
            view = b.networks.container_network(c)
            assert view.sandbox_key == "" and view.ports == ()
            assert [e.network_id for e in view.endpoints] == [n.id]
            assert "81/tcp" in view.exposed
            await b.containers.start(c.id)
            try:
                view = b.networks.container_network(b.containers.get(c.id))
                e = view.endpoints[0]
                assert (e.network_name, e.ip_address, e.prefix_len, e.gateway) == (
                    n.name, "10.213.1.50", 24, n.pools[0].gateway)
                assert e.aliases == ("web",) and e.ipam_ipv4_address == "10.213.1.50"
                assert len(e.endpoint_id) == 64 and e.mac_address
                assert c.name in e.dns_names and "web" in e.dns_names
                assert view.sandbox_key and view.sandbox_id
                [p] = view.ports
                assert (p.container_port, p.proto, p.host_ip) == (80, "tcp", "127.0.0.1")
                assert p.host_port > 0
                assert [cid for cid, x in b.networks.attached(n.id) if x.endpoint_id] == [
                    c.id]
            finally:
                await b.containers.remove(c.id, force=True)

        self.run(case)
