"""The networks of RUN steps through the docker CLI's classic builder (``DOCKER_BUILDKIT=0``)
and docker-py: ``docker build --network default|host|none|<network>``, ``--add-host`` and
Dockerfile ``RUN --network=none|host|default``, on the same container machinery as
``docker run``. Each RUN records what it saw into a file of the image, read back by
running it."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from tests.compat.daemon import Daemon
from tests.compat.netserve import free_subnet, interfaces, name
from tests.trees import write_tree

PROBE = """\
FROM busybox
RUN ip -o link > /build.links; ip route > /build.routes; cat /etc/hosts > /build.hosts
RUN --network=none ip -o link > /none.links
RUN --network=host ip -o link > /host.links
RUN --network=default ip -o link > /default.links
"""


@pytest.fixture(autouse=True)
def classic_builder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_BUILDKIT", "0")


def _built(d: Daemon, tmp_path: Path, tags: list[str], *opts: str) -> dict[str, str]:
    tag = f"{name('netprobe')}:1"
    tags.append(tag)
    write_tree(tmp_path, {"Dockerfile": PROBE})
    d.docker("build", "--no-cache", "-t", tag, *opts, str(tmp_path), timeout=180)
    files = ("build.links", "build.routes", "build.hosts", "none.links", "host.links",
             "default.links")
    out = d.docker("run", "--rm", tag, "sh", "-c",
                   " ; ".join(f"echo '=={f}'; cat /{f}" for f in files)).stdout
    found: dict[str, str] = {}
    for chunk in out.split("==")[1:]:
        head, _, body = chunk.partition("\n")
        found[head] = body
    return found


def _stable(names: set[str]) -> set[str]:
    return {n for n in names if not n.startswith(("vb", "veth"))}


def test_build_on_the_default_bridge(daemon: Daemon, tmp_path: Path,
                                     tags: list[str]) -> None:
    d = daemon
    seen = _built(d, tmp_path, tags, "--add-host", "built.test:10.7.7.7",
                  "--add-host", "gw:host-gateway")
    assert interfaces(seen["build.links"]) == {"lo", "eth0"}
    assert "default via" in seen["build.routes"]
    assert "10.7.7.7\tbuilt.test" in seen["build.hosts"].splitlines()
    gateway = d.docker("network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}",
                       "bridge").stdout.strip()
    assert f"{gateway}\tgw" in seen["build.hosts"].splitlines()
    assert interfaces(seen["none.links"]) == {"lo"}
    assert d.bridge in interfaces(seen["host.links"])
    assert interfaces(seen["default.links"]) == {"lo", "eth0"}


@pytest.mark.parametrize("mode", ["none", "host"])
def test_build_network_option(daemon: Daemon, tmp_path: Path, tags: list[str],
                              mode: str) -> None:
    seen = _built(daemon, tmp_path, tags, "--network", mode)
    build = interfaces(seen["build.links"])
    if mode == "none":
        assert build == {"lo"} and seen["build.routes"].strip() == ""
    else:
        assert daemon.bridge in build
    # RUN --network=default: the build's (the host's veths come and go with containers)
    assert _stable(interfaces(seen["default.links"])) == _stable(build)
    assert interfaces(seen["none.links"]) == {"lo"}
    assert daemon.bridge in interfaces(seen["host.links"])


def test_build_on_a_user_network(daemon: Daemon, tmp_path: Path, tags: list[str],
                                 networks: list[str]) -> None:
    net = name("buildnet")
    subnet = free_subnet()
    networks.append(net)
    daemon.docker("network", "create", "--subnet", subnet, net)
    seen = _built(daemon, tmp_path, tags, "--network", net)
    prefix = subnet.rsplit(".", 1)[0]
    assert f"src {prefix}." in seen["build.routes"], seen["build.routes"]


def test_docker_py_build_with_network_and_extra_hosts(daemon: Daemon, api: docker.APIClient,
                                                      tmp_path: Path,
                                                      tags: list[str]) -> None:
    tag = f"{name('pyprobe')}:1"
    tags.append(tag)
    write_tree(tmp_path, {"Dockerfile": "FROM busybox\nRUN cat /etc/hosts > /h; "
                                        "ip -o link > /l\n"})
    # rm=True: docker-py's default (False) keeps the RUN containers, as dockerd does
    for _ in api.build(path=str(tmp_path), tag=tag, network_mode="none", nocache=True,
                       rm=True, extra_hosts={"py.test": "10.6.6.6"}, decode=True):
        pass
    out = daemon.docker("run", "--rm", tag, "cat", "/h", "/l").stdout
    assert "10.6.6.6\tpy.test" in out.splitlines()
    assert interfaces(out) == {"lo"}
