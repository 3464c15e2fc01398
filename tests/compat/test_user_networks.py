"""User-defined networks through the docker CLI: create with a subnet, names and aliases
resolved by the embedded DNS (scoped to the network), inspect/ls/rm/prune,
connect --alias/--ip and disconnect, --internal, and the refusals (a network in use,
overlapping subnets, unknown networks)."""

from __future__ import annotations

import ipaddress
import json

from tests.compat import netstate
from tests.compat.daemon import Daemon, raw_request
from tests.compat.netserve import free_subnet, httpd_argv, ip_of, loopback_dns, name, wget_in


def _create(d: Daemon, networks: list[str], *opts: str) -> tuple[str, str]:
    """A new network: (name, subnet)."""
    net, subnet = name("appnet"), free_subnet()
    networks.append(net)
    d.docker("network", "create", "--subnet", subnet, *opts, net)
    return net, subnet


def _inspect(d: Daemon, net: str) -> dict[str, object]:
    doc = json.loads(d.docker("network", "inspect", net).stdout)
    assert isinstance(doc, list) and len(doc) == 1
    return doc[0]


def test_names_and_aliases_on_a_user_network(daemon: Daemon, networks: list[str],
                                             containers: list[str]) -> None:
    d = daemon
    net, subnet = _create(d, networks, "--label", "team=net")
    api = name("api")
    containers.append(api)
    d.docker("run", "-d", "--network", net, "--network-alias", "apialias", "--name", api,
             "busybox", *httpd_argv("from-api", 8080))
    address = ip_of(d, api, net)
    assert ipaddress.ip_address(address) in ipaddress.ip_network(subnet)
    client = ["run", "--rm", "--network", net, "busybox"]
    assert wget_in(d, client, f"http://{api}:8080/") == "from-api"
    assert wget_in(d, client, "http://apialias:8080/") == "from-api"
    resolv = d.docker(*client, "cat", "/etc/resolv.conf").stdout
    assert "nameserver 127.0.0.11" in resolv, resolv
    doc = _inspect(d, net)
    assert doc["Name"] == net and doc["Driver"] == "bridge" and doc["Scope"] == "local"
    assert doc["Labels"] == {"team": "net"} and doc["Internal"] is False
    config = doc["IPAM"]["Config"][0]  # type: ignore[index]
    assert config["Subnet"] == subnet
    assert config["Gateway"] == str(ipaddress.ip_network(subnet)[1])
    attached = doc["Containers"]  # type: ignore[assignment]
    assert isinstance(attached, dict) and len(attached) == 1
    entry = next(iter(attached.values()))
    assert entry["Name"] == api and entry["IPv4Address"] == f"{address}/24"
    ls = d.docker("network", "ls", "--format", "{{.Name}} {{.Driver}}").stdout.splitlines()
    assert {"bridge bridge", "host host", "none null", f"{net} bridge"} <= set(ls)
    filtered = d.docker("network", "ls", "-q", "--filter", "label=team=net").stdout.split()
    assert filtered == [str(doc["Id"])[:12]]


def test_names_of_another_network_do_not_resolve(daemon: Daemon, networks: list[str],
                                                 containers: list[str]) -> None:
    d = daemon
    one, _ = _create(d, networks)
    two, _ = _create(d, networks)
    hidden, plain = name("hidden"), name("onbridge")
    containers += [hidden, plain]
    d.docker("run", "-d", "--network", one, "--name", hidden, "busybox", "sleep", "600")
    d.docker("run", "-d", "--name", plain, "busybox", "sleep", "600")
    # names berth does not know go to the upstream: a loopback one of the test's own
    with loopback_dns({"upstream.test": "10.9.8.7"}) as upstream:
        for other in (hidden, plain):
            done = d.docker("run", "--rm", "--network", two, "--dns", upstream, "busybox",
                            "nslookup", other, check=False)
            assert done.returncode != 0, done.stdout
        found = d.docker("run", "--rm", "--network", one, "--dns", upstream, "busybox",
                         "nslookup", hidden).stdout
        assert ip_of(d, hidden, one) in found
        forwarded = d.docker("run", "--rm", "--network", one, "--dns", upstream, "busybox",
                             "nslookup", "-type=a", "upstream.test").stdout
        assert "10.9.8.7" in forwarded, forwarded


def test_connect_with_alias_and_ip_then_disconnect(daemon: Daemon, networks: list[str],
                                                   containers: list[str]) -> None:
    d = daemon
    net, subnet = _create(d, networks)
    wanted = str(ipaddress.ip_network(subnet)[50])
    c = name("joiner")
    containers.append(c)
    d.docker("run", "-d", "--name", c, "busybox", *httpd_argv("joined", 8080))
    d.docker("network", "connect", "--alias", "calias", "--ip", wanted, net, c)
    assert ip_of(d, c, net) == wanted
    assert f"inet {wanted}/24" in d.docker("exec", c, "ip", "-4", "addr").stdout
    client = ["run", "--rm", "--network", net, "busybox"]
    assert wget_in(d, client, "http://calias:8080/") == "joined"
    assert wget_in(d, client, f"http://{c}:8080/") == "joined"
    aliases = json.loads(d.docker(
        "inspect", "-f", f"{{{{json (index .NetworkSettings.Networks \"{net}\").Aliases}}}}",
        c).stdout)
    assert "calias" in aliases
    d.docker("network", "disconnect", net, c)
    assert wanted not in d.docker("exec", c, "ip", "-4", "addr").stdout
    assert net not in json.loads(d.docker("inspect", "-f", "{{json .NetworkSettings.Networks}}",
                                          c).stdout)
    done = d.docker(*client, "nslookup", "calias", check=False)
    assert done.returncode != 0, done.stdout


def test_remove_a_network_in_use_is_409(daemon: Daemon, networks: list[str],
                                        containers: list[str]) -> None:
    d = daemon
    net, _ = _create(d, networks)
    c = name("holder")
    containers.append(c)
    d.docker("run", "-d", "--network", net, "--name", c, "busybox", "sleep", "600")
    done = d.docker("network", "rm", net, check=False)
    assert done.returncode != 0 and "has active endpoints" in done.stderr, done.stderr
    status, _, _ = raw_request(d, "DELETE", f"/v1.45/networks/{net}")
    assert status == 409
    d.docker("rm", "-f", c)
    bridge = f"br-{str(_inspect(d, net)['Id'])[:12]}"
    assert netstate.link_exists(bridge)
    d.docker("network", "rm", net)
    assert not netstate.link_exists(bridge)
    done = d.docker("network", "inspect", net, check=False)
    assert done.returncode != 0 and "not found" in done.stderr


def test_overlapping_subnet_is_refused(daemon: Daemon, networks: list[str]) -> None:
    d = daemon
    _, subnet = _create(d, networks)
    other = name("overlap")
    done = d.docker("network", "create", "--subnet", subnet, other, check=False)
    if done.returncode == 0:
        networks.append(other)
    assert done.returncode != 0 and "overlaps" in done.stderr, done.stderr


def test_duplicate_name_is_refused(daemon: Daemon, networks: list[str]) -> None:
    d = daemon
    net, _ = _create(d, networks)
    done = d.docker("network", "create", net, check=False)
    assert done.returncode != 0 and "already exists" in done.stderr, done.stderr


def test_unknown_network(daemon: Daemon) -> None:
    d = daemon
    done = d.docker("run", "--rm", "--network", "nosuchnet", "busybox", "true", check=False)
    assert done.returncode != 0 and "network nosuchnet not found" in done.stderr, done.stderr
    done = d.docker("network", "inspect", "nosuchnet", check=False)
    assert done.returncode != 0 and "not found" in done.stderr
    status, _, _ = raw_request(d, "GET", "/v1.45/networks/nosuchnet")
    assert status == 404


def test_predefined_networks_cannot_be_removed(daemon: Daemon) -> None:
    for net in ("bridge", "host", "none"):
        done = daemon.docker("network", "rm", net, check=False)
        assert done.returncode != 0 and "pre-defined network" in done.stderr, done.stderr


def test_prune_removes_only_unused_networks(daemon: Daemon, networks: list[str],
                                           containers: list[str]) -> None:
    d = daemon
    unused, _ = _create(d, networks)
    used, _ = _create(d, networks)
    c = name("user")
    containers.append(c)
    d.docker("run", "-d", "--network", used, "--name", c, "busybox", "sleep", "600")
    out = d.docker("network", "prune", "-f").stdout
    assert unused in out.split() and used not in out.split(), out
    names = d.docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert unused not in names and used in names and "bridge" in names


def test_internal_network_has_no_way_out(daemon: Daemon, networks: list[str],
                                         containers: list[str]) -> None:
    d = daemon
    net, _ = _create(d, networks, "--internal")
    assert _inspect(d, net)["Internal"] is True
    server = name("inside")
    containers.append(server)
    d.docker("run", "-d", "--network", net, "--name", server, "busybox",
             *httpd_argv("internal", 8080))
    client = ["run", "--rm", "--network", net, "busybox"]
    routes = d.docker(*client, "ip", "route").stdout
    assert "default" not in routes, routes
    assert wget_in(d, client, f"http://{server}:8080/") == "internal"
