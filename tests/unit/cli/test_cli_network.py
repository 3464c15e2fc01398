"""berth network verbs, berth port, ps PORTS/NETWORKS and inspect of networking fields,
against the fake daemon (issue 11)."""

from __future__ import annotations

import json

import pytest
from fake_daemon import CID, NETWORK_ID

from berth.cli.command import StatusError
from berth.cli.commands.network import go_time_text, ipam_pools, natural_key
from berth.cli.commands.port import mappings
from berth.cli.commands.ps import displayable_ports
from berth.client.models import Port
from berth.client.networks import IPAMPool

APPNET = {"Name": "appnet", "Id": NETWORK_ID, "Driver": "bridge", "Scope": "local",
          "Created": "2024-05-01T10:20:30.123400Z", "Internal": False, "EnableIPv6": False,
          "Labels": {"team": "a"}, "Containers": {}}
BRIDGE = {"Name": "bridge", "Id": "b" * 64, "Driver": "bridge", "Scope": "local",
          "Created": "2024-05-01T10:00:00Z", "Containers": {CID: {}}}
NET10 = {"Name": "net10", "Id": "c" * 64, "Driver": "bridge", "Scope": "local"}
NET9 = {"Name": "net9", "Id": "d" * 64, "Driver": "bridge", "Scope": "local"}


@pytest.fixture
def networks(daemon):
    daemon.state.networks = [APPNET, BRIDGE, NET10, NET9]
    return daemon.state


def test_create_sends_docker_body_and_prints_id(berth, daemon):
    code, out, _ = berth("network", "create", "--subnet", "10.88.1.0/24", "--gateway",
                         "10.88.1.1", "--ip-range", "10.88.1.128/25", "--internal",
                         "--attachable", "--label", "k=v", "-o", "mtu=1400", "appnet")
    assert (code, out) == (0, NETWORK_ID + "\n")
    body = json.loads(daemon.state.find("POST", "/networks/create").body)
    assert body == {
        "Name": "appnet", "Driver": "bridge", "Options": {"mtu": "1400"},
        "IPAM": {"Driver": "default", "Options": {}, "Config": [
            {"Subnet": "10.88.1.0/24", "IPRange": "10.88.1.128/25", "Gateway": "10.88.1.1",
             "AuxiliaryAddresses": {}}]},
        "Internal": True, "Attachable": True, "Ingress": False, "ConfigOnly": False,
        "Labels": {"k": "v"}, "EnableIPv6": False}


def test_create_plain_has_no_pools(berth, daemon):
    assert berth("network", "create", "-d", "bridge", "n")[0] == 0
    body = json.loads(daemon.state.find("POST", "/networks/create").body)
    assert body["IPAM"]["Config"] == [] and body["Driver"] == "bridge"


def test_create_needs_one_name(berth):
    code, _, err = berth("network", "create")
    assert code == 1
    assert err.startswith("berth: 'berth network create' requires 1 argument")


@pytest.mark.parametrize(("subnets", "ranges", "gateways", "message"), [
    ([], [], ["10.0.0.1"], "every ip-range or gateway must have a corresponding subnet"),
    (["10.0.0.0/16", "10.0.1.0/24"], [], [],
     "multiple overlapping subnet configuration is not supported"),
    (["10.0.0.0/24"], [], ["10.1.0.1"], "no matching subnet for gateway 10.1.0.1"),
    (["10.0.0.0/24"], ["10.1.0.0/25"], [], "no matching subnet for range 10.1.0.0/25"),
    (["x"], [], [], "invalid subnet: invalid CIDR address: x"),
])
def test_ipam_refusals_as_docker(subnets, ranges, gateways, message):
    with pytest.raises(StatusError) as err:
        ipam_pools(subnets, ranges, gateways)
    assert (err.value.exit_code, err.value.message) == (1, message)


def test_ipam_pairs_gateways_with_their_subnet():
    assert ipam_pools(["10.0.0.0/24", "10.0.1.0/24"], [], ["10.0.1.1", "10.0.0.1"]) == (
        IPAMPool("10.0.0.0/24", gateway="10.0.0.1"), IPAMPool("10.0.1.0/24", gateway="10.0.1.1"))


def test_ls_table_natural_order(berth, networks):
    code, out, _ = berth("network", "ls")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert [line.split()[1] for line in lines[1:]] == ["appnet", "bridge", "net9", "net10"]
    assert lines[1].split()[0] == NETWORK_ID[:12]


def test_ls_quiet_no_trunc_filter_and_format(berth, networks):
    out = berth("network", "ls", "-q", "--no-trunc", "-f", "driver=bridge")[1]
    assert out.splitlines()[0] == NETWORK_ID
    req = networks.find("GET", "/networks")
    assert json.loads(req.query["filters"][0]) == {"driver": ["bridge"]}
    _code, out, _ = berth("network", "list", "--format", "{{.Name}} {{.Label \"team\"}}")
    assert out.splitlines()[0] == "appnet a"


def test_ls_json(berth, networks):
    out = berth("network", "ls", "--format", "json")[1]
    first = json.loads(out.splitlines()[0])
    assert first == {"CreatedAt": "2024-05-01 10:20:30.1234 +0000 UTC", "Driver": "bridge",
                     "ID": NETWORK_ID[:12], "IPv4": "true", "IPv6": "false",
                     "Internal": "false", "Labels": "team=a", "Name": "appnet",
                     "Scope": "local"}


def test_ls_bad_filter(berth):
    code, _, err = berth("network", "ls", "-f", "x")
    assert code == 125 and "bad format of filter (expected name=value)" in err


def test_inspect_prints_array_and_template(berth, networks):
    code, out, _ = berth("network", "inspect", "appnet")
    assert code == 0 and json.loads(out) == [APPNET]
    assert out.startswith("[\n    {\n")
    assert berth("network", "inspect", "-f", "{{.Name}} {{.Driver}}", "appnet", "bridge")[1] \
        == "appnet bridge\nbridge bridge\n"


def test_inspect_missing(berth, networks):
    code, out, err = berth("network", "inspect", "appnet", "nope")
    assert code == 1
    assert json.loads(out) == [APPNET]
    assert err == "Error response from daemon: network nope not found\n"


def test_generic_inspect_finds_a_network(berth, networks):
    code, out, _ = berth("inspect", "-f", "{{.Id}}", "appnet")
    assert (code, out) == (0, NETWORK_ID + "\n")
    code, out, _ = berth("inspect", "--type", "network", "-f", "{{.Name}}", "bridge")
    assert (code, out) == (0, "bridge\n")


def test_rm_prints_names_and_reports_in_use(berth, networks):
    code, out, err = berth("network", "rm", "appnet", "bridge", "nope")
    assert code == 1
    assert out == "appnet\n"
    assert err == (f"Error response from daemon: error while removing network: network bridge "
                   f"id {'b' * 64} has active endpoints\n"
                   "Error response from daemon: network nope not found\n")
    code, out, err = berth("network", "remove", "-f", "nope", "appnet")
    assert (code, out, err) == (0, "appnet\n", "")


def test_prune_prompt_declined(berth, networks, monkeypatch):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    code, out, _ = berth("network", "prune")
    assert code == 0
    assert out == ("WARNING! This will remove all custom networks not used by at least one "
                   "container.\nAre you sure you want to continue? [y/N] ")
    assert not [r for r in networks.requests if r.path.endswith("/networks/prune")]


def test_prune_forced(berth, networks):
    code, out, _ = berth("network", "prune", "-f", "--filter", "until=1h")
    assert code == 0
    assert out == "Deleted Networks:\nappnet\nbridge\nnet10\nnet9\n\n"
    req = networks.find("POST", "/networks/prune")
    assert json.loads(req.query["filters"][0]) == {"until": ["1h"]}


def test_connect_and_disconnect_bodies(berth, networks):
    code, out, _ = berth("network", "connect", "--alias", "a1,a2", "--alias", "a3", "--ip",
                         "10.88.1.7", "--link", "db:d", "appnet", "web")
    assert (code, out) == (0, "")
    assert json.loads(networks.find("POST", "/connect").body) == {
        "Container": "web", "EndpointConfig": {
            "IPAMConfig": {"IPv4Address": "10.88.1.7"}, "Links": ["db:d"],
            "Aliases": ["a1", "a2", "a3"]}}
    assert berth("network", "disconnect", "-f", "appnet", "web")[0] == 0
    assert json.loads(networks.find("POST", "/disconnect").body) == {"Container": "web",
                                                                     "Force": True}
    code, _, err = berth("network", "connect", "nope", "web")
    assert (code, err) == (1, "Error response from daemon: network nope not found\n")


def test_network_help_and_unknown_verb(berth):
    code, out, _ = berth("network", "create", "--help")
    assert code == 0 and "Usage:  berth network create [OPTIONS] NETWORK" in out
    assert "--subnet strings" in out
    code, out, _ = berth("--help")
    assert "network     Manage networks" in out and "port        List port mappings" in out


PORTS = {"8080/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8888"}],
         "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}],
         "9090/tcp": None,
         "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"},
                    {"HostIp": "::", "HostPort": "32768"}]}


def test_port_lists_every_mapping(berth, daemon):
    daemon.state.network_settings = {"Ports": PORTS}
    code, out, _ = berth("port", "web")
    assert code == 0
    assert out == ("53/udp -> 127.0.0.1:5353\n80/tcp -> 0.0.0.0:32768\n80/tcp -> [::]:32768\n"
                   "8080/tcp -> 0.0.0.0:8888\n")


def test_port_one_port(berth, daemon):
    daemon.state.network_settings = {"Ports": PORTS}
    assert berth("container", "port", "web", "8080")[1] == "0.0.0.0:8888\n"
    assert berth("port", "web", "53/udp")[1] == "127.0.0.1:5353\n"
    code, out, err = berth("port", "web", "9090/tcp")
    assert (code, out, err) == (1, "", "Error: No public port '9090/tcp' published for web\n")
    code, _, err = berth("port", "web", "x")
    assert (code, err) == (1, 'Error: invalid port (x): strconv.ParseUint: parsing "x": '
                              "invalid syntax\n")


def test_port_no_ports_prints_nothing(berth, daemon):
    assert berth("port", "web") == (0, "", "")
    code, _, err = berth("port", "nope")
    assert (code, err) == (1, "Error response from daemon: No such container: nope\n")


def test_mappings_natural_order():
    assert mappings({"10/tcp": [{"HostIp": "0.0.0.0", "HostPort": "2"}],
                     "9/tcp": [{"HostIp": "0.0.0.0", "HostPort": "1"}]}) == [
        "9/tcp -> 0.0.0.0:1", "10/tcp -> 0.0.0.0:2"]


def test_inspect_networking_template(berth, daemon):
    daemon.state.network_settings = {"IPAddress": "172.18.0.2", "Ports": {
        "8080/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8888"}]}}
    code, out, _ = berth("inspect", "-f", "{{.NetworkSettings.IPAddress}} "
                                          "{{json .NetworkSettings.Ports}}", "web")
    assert (code, out) == (0, '172.18.0.2 {"8080/tcp":[{"HostIp":"0.0.0.0",'
                              '"HostPort":"8888"}]}\n')


def P(private, proto="tcp", public=None, ip=""):
    return Port(private, proto, public, ip)


@pytest.mark.parametrize(("ports", "shown"), [
    ((), ""),
    ((P(8080, public=8888, ip="0.0.0.0"), P(9090)), "9090/tcp, 0.0.0.0:8888->8080/tcp"),
    (tuple(P(p, public=p, ip="0.0.0.0") for p in range(8010, 7999, -1)),
     "0.0.0.0:8000-8010->8000-8010/tcp"),
    ((P(80), P(81), P(83), P(53, "udp")), "80-81/tcp, 53/udp, 83/tcp"),
    ((P(80, public=80, ip="0.0.0.0"), P(80, public=80, ip="::")),
     "0.0.0.0:80->80/tcp, [::]:80->80/tcp"),
    ((P(53, "udp", 5353, "127.0.0.1"), P(53, "tcp", 5353, "127.0.0.1")),
     "127.0.0.1:5353->53/tcp, 127.0.0.1:5353->53/udp"),
])
def test_ps_ports_as_docker(ports, shown):
    assert displayable_ports(ports) == shown


def test_ps_ports_and_networks_columns(berth, daemon):
    daemon.state.containers = [{
        "Id": CID, "Names": ["/web"], "Image": "busybox", "Command": "httpd", "Created": 0,
        "State": "running", "Status": "Up",
        "Ports": [{"PrivatePort": 8080, "PublicPort": 8888, "IP": "0.0.0.0", "Type": "tcp"},
                  {"PrivatePort": 9090, "Type": "tcp"}],
        "NetworkSettings": {"Networks": {"bridge": {}, "appnet": {}}}}]
    _code, out, _ = berth("ps")
    assert "9090/tcp, 0.0.0.0:8888->8080/tcp" in out.splitlines()[1]
    assert berth("ps", "--format", "{{.Ports}}|{{.Networks}}")[1] == \
        "9090/tcp, 0.0.0.0:8888->8080/tcp|appnet,bridge\n"


def test_natural_key_and_go_time():
    assert sorted(["n10", "n9", "a", "n1b"], key=natural_key) == ["a", "n1b", "n9", "n10"]
    assert go_time_text("2024-05-01T10:20:30Z") == "2024-05-01 10:20:30 +0000 UTC"
    assert go_time_text("2024-05-01T10:20:30.5+02:00") == "2024-05-01 10:20:30.5 +0200 +0200"
