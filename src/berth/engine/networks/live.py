"""The live endpoints of running containers, in memory: what the embedded DNS server
answers from (on every query, so no database read) and what ``/etc/hosts`` of legacy
links is made of. Rebuilt from the endpoints table at daemon start; changed by each
prepare, release, connect and disconnect.

Names resolve only among containers that share a user-defined network with the asker
(docker's scoping): a container's name, its aliases and its short id on that network,
and the aliases of its links there (for the linking container alone).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from berth.engine.networks.sandbox import Attachment


class LiveEndpoints:
    def __init__(self) -> None:
        self._by_container: dict[str, dict[str, Attachment]] = defaultdict(dict)
        self._by_network: dict[str, dict[str, Attachment]] = defaultdict(dict)
        self._names: dict[str, str] = {}  # container id → name, for links

    def put(self, a: Attachment, name: str) -> None:
        self._by_container[a.container_id][a.network_id] = a
        self._by_network[a.network_id][a.container_id] = a
        self._names[a.container_id] = name

    def drop(self, cid: str, network_id: str | None = None) -> None:
        nets = self._by_container.get(cid, {})
        for nid in [network_id] if network_id is not None else list(nets):
            if nid is None:
                continue
            nets.pop(nid, None)
            self._by_network.get(nid, {}).pop(cid, None)
        if not nets:
            self._by_container.pop(cid, None)
            self._names.pop(cid, None)

    def of(self, cid: str) -> list[Attachment]:
        return list(self._by_container.get(cid, {}).values())

    def on(self, network_id: str) -> list[Attachment]:
        return list(self._by_network.get(network_id, {}).values())

    def get(self, cid: str, network_id: str) -> Attachment | None:
        return self._by_container.get(cid, {}).get(network_id)

    def containers(self) -> Iterable[str]:
        return self._by_container.keys()

    def resolve(self, cid: str, name: str, scoped: set[str]) -> list[str]:
        """The addresses ``name`` has for container ``cid``, on the networks of
        ``scoped`` (user-defined ones) the asker is on."""
        name = name.rstrip(".").lower()
        out: list[str] = []
        for asker in self.of(cid):
            if asker.network_id not in scoped:
                continue
            peers = self._by_network[asker.network_id]
            for target, alias in asker.links:
                if alias.lower() == name:
                    out += [a.address for a in peers.values()
                            if self._names.get(a.container_id) == target and a.address]
            for peer in peers.values():
                if peer.address and name in (n.lower() for n in peer.dns_names):
                    out.append(peer.address)
        return list(dict.fromkeys(out))
