"""Swarm mode: berth is never part of a swarm, and says so as dockerd does (503 and its
message), through docker-py and the docker CLI."""

from __future__ import annotations

import docker
import pytest
from docker.errors import APIError

from tests.compat.daemon import Daemon

NOT_A_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or '
                 '"docker swarm join" to connect this node to swarm and try again.')


def test_docker_py_swarm_calls_answer_503(daemon: Daemon) -> None:
    client = docker.DockerClient(base_url=daemon.host, version="1.45", timeout=30)
    try:
        with pytest.raises(APIError) as left:
            client.swarm.leave()
        assert left.value.status_code == 503
        assert left.value.explanation == "This node is not part of a swarm"
        # docker-py takes a forced leave's 503 (dockerd's "not part of a swarm") as done;
        # berth's old 404 raised
        assert client.swarm.leave(force=True) is True
        for call in (client.nodes.list, client.services.list, client.secrets.list,
                     client.configs.list, client.api.tasks, client.api.inspect_swarm):
            with pytest.raises(APIError) as refused:
                call()
            assert refused.value.status_code == 503, call
            assert refused.value.explanation == NOT_A_MANAGER
        with pytest.raises(APIError) as init:
            client.swarm.init(advertise_addr="127.0.0.1")
        assert init.value.status_code == 503
        assert "does not support swarm" in str(init.value.explanation)
    finally:
        client.close()


def test_docker_cli_node_ls_prints_dockers_message(daemon: Daemon) -> None:
    done = daemon.docker("node", "ls", check=False)
    assert done.returncode == 1
    assert done.stderr == f"Error response from daemon: {NOT_A_MANAGER}\n"
    done = daemon.docker("service", "ls", check=False)
    assert done.returncode == 1 and NOT_A_MANAGER in done.stderr
    done = daemon.docker("swarm", "leave", "--force", check=False)
    assert done.returncode == 1
    assert done.stderr == "Error response from daemon: This node is not part of a swarm\n"
