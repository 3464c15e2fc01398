"""docker-py 7 against berthd's networking: ``networks.create`` with an IPAM pool,
``connect`` with aliases, ``containers.run(ports=..., links=...)``, ``container.ports``,
``APIClient.port``, ``network.containers`` and removal."""

from __future__ import annotations

import ipaddress
import time

import docker
from docker.types import IPAMConfig, IPAMPool

from tests.compat.daemon import Daemon
from tests.compat.netserve import fetch_eventually, free_subnet, httpd_argv, name, wget_in


def test_networks_create_connect_and_remove(daemon: Daemon, client: docker.DockerClient,
                                            networks: list[str],
                                            containers: list[str]) -> None:
    subnet = free_subnet()
    net_name = name("pynet")
    networks.append(net_name)
    net = client.networks.create(net_name, driver="bridge", labels={"via": "docker-py"},
                                 ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=subnet)]))
    assert net.name == net_name and net.attrs["IPAM"]["Config"][0]["Subnet"] == subnet
    assert [n.id for n in client.networks.list(names=[net_name])] == [net.id]
    api_name = name("pyapi")
    containers.append(api_name)
    server = client.containers.run("busybox", httpd_argv("py-served", 8080), detach=True,
                                   name=api_name)
    net.connect(server, aliases=["backend"])
    net.reload()
    assert [c.name for c in net.containers] == [api_name]
    server.reload()
    endpoint = server.attrs["NetworkSettings"]["Networks"][net_name]
    assert "backend" in endpoint["Aliases"]
    assert ipaddress.ip_address(endpoint["IPAddress"]) in ipaddress.ip_network(subnet)
    assert wget_in(daemon, ["run", "--rm", "--network", net_name, "busybox"],
                   "http://backend:8080/") == "py-served"
    net.disconnect(server)
    net.reload()
    assert net.containers == []
    net.remove()
    networks.remove(net_name)
    assert client.networks.list(names=[net_name]) == []


def test_run_with_ports_and_links(daemon: Daemon, client: docker.DockerClient,
                                  api: docker.APIClient, containers: list[str]) -> None:
    db_name, web_name = name("pydb"), name("pyweb")
    containers += [db_name, web_name]
    db = client.containers.run("busybox", httpd_argv("linked", 5432), detach=True,
                               name=db_name, ports={"5432/tcp": ("127.0.0.1", None)})
    db.reload()
    bound = db.ports["5432/tcp"]
    assert len(bound) == 1 and bound[0]["HostIp"] == "127.0.0.1"
    port = int(bound[0]["HostPort"])
    assert api.port(db.id, 5432) == [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
    assert fetch_eventually(port) == "linked"
    web = client.containers.run("busybox", ["sleep", "600"], detach=True, name=web_name,
                                links={db_name: "database"})
    env = web.exec_run(["env"]).output.decode()
    assert f"DATABASE_NAME=/{web_name}/database" in env.splitlines()
    deadline = time.monotonic() + 15
    while True:
        got = web.exec_run(["timeout", "5", "wget", "-qO-", "http://database:5432/"])
        if got.exit_code == 0:
            break
        assert time.monotonic() < deadline, got.output
        time.sleep(0.3)
    assert got.output.decode().strip() == "linked"
    links = api.inspect_container(web.id)["HostConfig"]["Links"]
    assert links == [f"/{db_name}:/{web_name}/database"]
