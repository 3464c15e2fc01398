"""NetworksAPI over the fake daemon: paths, queries and bodies (issue 11)."""

from __future__ import annotations

import json

import pytest
from fake_daemon import NETWORK_ID, serving

from berth import errors
from berth.client import Client
from berth.client.networking import EndpointConfig
from berth.client.networks import IPAMPool, NetworkCreate, NetworkSummary


@pytest.fixture
def fake(tmp_path):
    with serving(str(tmp_path / "s.sock")) as server:
        server.state.networks = [{"Name": "appnet", "Id": NETWORK_ID, "Driver": "bridge",
                                  "Scope": "local", "Internal": True,
                                  "Labels": {"a": "b"}}]
        yield server, Client(f"unix://{tmp_path / 's.sock'}")


def test_create_list_inspect(fake):
    server, client = fake
    spec = NetworkCreate("n", pools=(IPAMPool("10.1.0.0/24", gateway="10.1.0.1"),))
    assert client.networks.create(spec) == NETWORK_ID
    body = json.loads(server.state.find("POST", "/v1.45/networks/create").body)
    assert body["IPAM"]["Config"] == [{"Subnet": "10.1.0.0/24", "Gateway": "10.1.0.1",
                                       "AuxiliaryAddresses": {}}]
    assert client.networks.list({"name": ["app"]}) == [NetworkSummary(
        NETWORK_ID, "appnet", "bridge", "local", internal=True, labels={"a": "b"})]
    assert client.networks.inspect("appnet", verbose=True)["Id"] == NETWORK_ID
    assert server.state.requests[-1].query == {"verbose": ["1"]}


def test_remove_prune_connect_disconnect(fake):
    server, client = fake
    client.networks.remove("appnet")
    with pytest.raises(errors.NotFound, match="network nope not found"):
        client.networks.remove("nope")
    assert client.networks.prune() == ("appnet",)
    client.networks.connect("appnet", "web", EndpointConfig(aliases=("x",)))
    assert json.loads(server.state.requests[-1].body) == {
        "Container": "web", "EndpointConfig": {"Aliases": ["x"]}}
    client.networks.disconnect("appnet", "web")
    assert json.loads(server.state.requests[-1].body) == {"Container": "web", "Force": False}
