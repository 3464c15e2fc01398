"""``docker-compose build`` (Debian's compose 1.29, python) against berthd: a project of two
services, each with a build context, Dockerfile, args, target and labels, checked by
running the images it built.

Compose builds either through docker-py's ``images.build`` (``COMPOSE_DOCKER_CLI_BUILD=0``:
``POST /build`` straight from compose) or by running ``docker build`` (its default). The
latter does not hand ``-H`` on to the docker CLI, so that mode is driven by DOCKER_HOST.
``up`` needs networks, which berthd does not have yet.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat.daemon import Daemon
from tests.trees import write_tree

COMPOSE_FILE = """\
version: "3.8"
services:
  web:
    image: {project}-web:1
    build:
      context: ./web
      dockerfile: Dockerfile.web
      target: runtime
      args:
        GREETING: hello
      labels:
        com.example.role: web
  worker:
    image: {project}-worker:1
    build:
      context: ./worker
      args:
        - WHO=world
      labels:
        - com.example.role=worker
"""

WEB = """\
FROM busybox AS deps
ARG GREETING=unset
RUN echo "$GREETING from deps" > /deps.txt
FROM deps AS runtime
COPY page.txt /srv/page.txt
CMD ["cat", "/deps.txt", "/srv/page.txt"]
FROM runtime AS debug
RUN echo "the target stage ends before this one" && exit 1
"""

WORKER = """\
FROM busybox
ARG WHO
ENV WORKER_OF=$WHO
RUN echo "worker $WHO" > /worker.txt
CMD ["sh", "-c", "cat /worker.txt; echo env $WORKER_OF"]
"""


@pytest.fixture
def project(daemon: Daemon, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    name = f"berthc{secrets.token_hex(3)}"
    write_tree(tmp_path, {"docker-compose.yml": COMPOSE_FILE.format(project=name),
                          "web/Dockerfile.web": WEB, "web/page.txt": "the page\n",
                          "worker/Dockerfile": WORKER})
    try:
        yield name, tmp_path
    finally:
        daemon.berth("rmi", "-f", f"{name}-web:1", f"{name}-worker:1", check=False)


def compose(d: Daemon, root: Path, name: str, *args: str, cli_build: bool,
            ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in d.env().items() if k not in ("DOCKER_HOST", "BERTH_HOST")}
    env |= {"DOCKER_CONFIG": str(d.root / "dockercfg"), "DOCKER_BUILDKIT": "0",
            "COMPOSE_DOCKER_CLI_BUILD": "1" if cli_build else "0"}
    argv = ["docker-compose", "-p", name, *args]
    if cli_build:
        env["DOCKER_HOST"] = d.host
    else:
        argv[1:1] = ["-H", d.host]
    done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True,
                          timeout=240, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{argv} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def labels(d: Daemon, image: str) -> dict[str, str]:
    out = d.berth("image", "inspect", "--format", "{{json .Config.Labels}}", image).stdout
    value: dict[str, str] = json.loads(out)
    return value


@pytest.mark.parametrize("cli_build", [False, True], ids=["docker-py", "docker-cli"])
def test_compose_builds_two_services_and_the_images_run(
        daemon: Daemon, project: tuple[str, Path], cli_build: bool) -> None:
    name, root = project
    done = compose(daemon, root, name, "build", cli_build=cli_build)
    output = done.stdout + done.stderr
    assert f"Successfully tagged {name}-web:1" in output
    assert f"Successfully tagged {name}-worker:1" in output
    assert "the target stage ends before this one" not in output  # --target runtime

    assert daemon.berth("run", "--rm", f"{name}-web:1").stdout == \
        "hello from deps\nthe page\n"
    assert daemon.berth("run", "--rm", f"{name}-worker:1").stdout == \
        "worker world\nenv world\n"
    assert labels(daemon, f"{name}-web:1") == {"com.example.role": "web"}
    assert labels(daemon, f"{name}-worker:1") == {"com.example.role": "worker"}
    assert daemon.berth("ps", "-aq").stdout == ""

    again = compose(daemon, root, name, "build", "web", cli_build=cli_build)
    assert "Running in" not in again.stdout  # all cached
    assert again.stdout.count(" ---> Using cache") == 5
