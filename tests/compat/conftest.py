from __future__ import annotations

import contextlib
import importlib
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.compat.daemon import Daemon

pytestmark = pytest.mark.compat


@contextlib.contextmanager
def _running_daemon() -> Iterator[Daemon]:
    """A berthd with busybox bootstrapped, removed with everything it made afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    d = Daemon(Path(tempfile.mkdtemp(prefix="b", dir="/tmp")))
    try:
        d.start()
        d.berth("image", "bootstrap", "busybox")
        yield d
    finally:
        d.cleanup()


@pytest.fixture(scope="session")
def daemon() -> Iterator[Daemon]:
    """One berthd for the session."""
    with _running_daemon() as d:
        yield d


@pytest.fixture
def fresh_daemon() -> Iterator[Daemon]:
    """A berthd of a test's own, for tests that kill or restart the daemon."""
    with _running_daemon() as d:
        yield d


@pytest.fixture
def client(daemon: Daemon) -> Iterator[docker.DockerClient]:
    """A docker-py client of the session's berthd."""
    c = docker.DockerClient(base_url=daemon.host, version="1.45", timeout=60)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def api(daemon: Daemon) -> Iterator[docker.APIClient]:
    """docker-py's low-level client of the session's berthd."""
    c = docker.APIClient(base_url=daemon.host, version="1.45", timeout=120)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def tags(daemon: Daemon) -> Iterator[list[str]]:
    """Tags a test builds or makes; removed afterwards with their intermediate images."""
    made: list[str] = []
    yield made
    if made:
        daemon.berth("rmi", "-f", *made, check=False)


def _bench_module(name: str) -> Any:
    """A module of ``bench/`` (a script directory, not a package: its modules import each
    other by bare name), so tests drive dockerd exactly as the benchmarks do."""
    bench = str(Path(__file__).resolve().parents[2] / "bench")
    if bench not in sys.path:
        sys.path.append(bench)
    return importlib.import_module(name)


@pytest.fixture(scope="session")
def real_dockerd(daemon: Daemon) -> Iterator[Any]:
    """A private dockerd (Debian ``docker.io``: bench's ``Dockerd``, with its own roots,
    socket and containerd) holding ``busybox:latest``, imported from the berth daemon's
    busybox layer. ``.cli`` is the docker argv prefix and ``.env`` its environment."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    if not (shutil.which("dockerd") or Path("/usr/sbin/dockerd").exists()):
        pytest.skip("dockerd is not installed (apt-get install docker.io)")
    daemons = _bench_module("daemons")
    work = Path(tempfile.mkdtemp(prefix="dk", dir="/tmp"))  # short: containerd's sockets
    dockerd = daemons.Dockerd(work, f"berth-test-docker-{secrets.token_hex(4)}",
                              daemons.newest_docker_cli())
    try:
        dockerd.start()
        busybox = daemon.berth("image", "inspect", "--format",
                               "{{index .RootFS.Layers 0}}", "busybox").stdout.strip()
        layer = daemon.data_root / "content/blobs/sha256" / busybox.split(":")[1]
        dockerd.import_image(layer)
        yield dockerd
    finally:
        dockerd.stop()
        host = _bench_module("host")
        host.unmount_under(work)  # overlay mounts a killed dockerd may leave
        host.remove_cgroups(dockerd.cgroup_parent)
        shutil.rmtree(work, ignore_errors=True)



@pytest.fixture
def containers(daemon: Daemon) -> Iterator[list[str]]:
    """Names of containers a test makes on the session's berthd; removed afterwards."""
    made: list[str] = []
    yield made
    if made:
        daemon.docker("rm", "-f", *made, check=False)


@pytest.fixture
def networks(daemon: Daemon, containers: list[str]) -> Iterator[list[str]]:
    """Names of networks a test makes; removed afterwards, after its containers."""
    made: list[str] = []
    yield made
    if containers:
        daemon.docker("rm", "-f", *containers, check=False)
        containers.clear()
    for net in made:
        daemon.user_bridges()
        daemon.docker("network", "rm", net, check=False)
