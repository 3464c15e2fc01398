"""``docker-compose up`` (Debian's compose 1.29, python, driven by DOCKER_HOST) of a
project of four services on two networks with ``ports:``, ``links:`` and aliases: the
services reach each other by service name, alias and link alias, only on the networks they
share; the host reaches the published port; ``down`` removes containers and networks and
leaves no rules, veths or netns behind."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.compat import netstate
from tests.compat.daemon import Daemon
from tests.compat.netserve import fetch_eventually, free_ports, free_subnet, loopback_dns
from tests.trees import write_tree

COMPOSE_FILE = """\
version: "3.7"
services:
  api:
    image: busybox
    command:
      - sh
      - -c
      - mkdir -p /www && echo from-api > /www/index.html
        && exec httpd -f -p 8080 -h /www
    networks:
      back:
        aliases: [apialias]
  web:
    image: busybox
    command:
      - sh
      - -c
      - mkdir -p /www && echo from-web > /www/index.html
        && exec httpd -f -p 8080 -h /www
    ports:
      - "127.0.0.1:{port}:8080"
    networks: [front, back]
  worker:
    image: busybox
    command: ["sleep", "600"]
    links: ["api:apilink"]
    networks: [back]
  edge:
    image: busybox
    command: ["sleep", "600"]
    dns: ["{dns}"]
    networks: [front]
networks:
  front: {{}}
  back:
    ipam:
      config:
        - subnet: {subnet}
"""


def compose(d: Daemon, root: Path, project: str, *args: str,
            check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in d.env().items() if k != "BERTH_HOST"}
    env |= {"DOCKER_HOST": d.host, "DOCKER_CONFIG": str(d.root / "dockercfg")}
    argv = ["docker-compose", "-p", project, *args]
    done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True,
                          timeout=240, stdin=subprocess.DEVNULL)
    if check:
        assert done.returncode == 0, f"{argv} exited {done.returncode}\n{done.stdout}\n" \
                                     f"{done.stderr}"
    return done


def _exec_wget(d: Daemon, root: Path, project: str, service: str, url: str) -> str:
    deadline = time.monotonic() + 20
    while True:
        done = compose(d, root, project, "exec", "-T", service, "timeout", "5", "wget", "-qO-",
                       url, check=False)
        if done.returncode == 0:
            return done.stdout.strip()
        assert time.monotonic() < deadline, done.stderr
        time.sleep(0.3)


def test_compose_up_services_reach_each_other_then_down(daemon: Daemon,
                                                        tmp_path: Path) -> None:
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    d = daemon
    project = f"bnet{secrets.token_hex(3)}"
    port = free_ports()
    dns = contextlib.ExitStack()  # edge's upstream: its unknown names stay on the host
    write_tree(tmp_path, {"docker-compose.yml": COMPOSE_FILE.format(
        port=port, subnet=free_subnet(), dns=dns.enter_context(loopback_dns({})))})
    try:
        compose(d, tmp_path, project, "up", "-d")
        nets = d.docker("network", "ls", "--format", "{{.Name}}").stdout.split()
        assert {f"{project}_front", f"{project}_back"} <= set(nets)
        assert fetch_eventually(port) == "from-web"
        for url in ("http://api:8080/", "http://apialias:8080/", "http://apilink:8080/",
                    "http://web:8080/"):
            assert _exec_wget(d, tmp_path, project, "worker", url).startswith("from-"), url
        assert _exec_wget(d, tmp_path, project, "edge", "http://web:8080/") == "from-web"
        lookup = compose(d, tmp_path, project, "exec", "-T", "edge", "nslookup", "api",
                         check=False)
        assert lookup.returncode != 0, "api is not on edge's network"
        ps = compose(d, tmp_path, project, "ps").stdout
        assert f"127.0.0.1:{port}->8080/tcp" in ps, ps
        ids = d.docker("ps", "-q", "--no-trunc", "--filter",
                       f"label=com.docker.compose.project={project}").stdout.split()
        assert len(ids) == 4
        bridges = {f"br-{n[:12]}" for n in d.docker(
            "network", "ls", "-q", "--no-trunc", "--filter", f"name={project}_").stdout.split()}
        assert len(bridges) == 2 and all(netstate.link_exists(b) for b in bridges)
    finally:
        down = compose(d, tmp_path, project, "down", check=False)
        dns.close()
    assert down.returncode == 0, down.stderr
    nets = d.docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert not [n for n in nets if n.startswith(f"{project}_")], nets
    assert d.docker("ps", "-aq", "--filter",
                    f"label=com.docker.compose.project={project}").stdout == ""
    for cid in ids:
        assert netstate.container_rules(d.chain_prefix, cid) == []
        assert not (d.exec_root / "netns" / cid).exists()
    assert not any(netstate.link_exists(b) for b in bridges)
    assert netstate.veths_on(bridges) == []
    assert [r for r in netstate.rules(d.chain_prefix) if f"--dport {port}" in r] == []
