"""docker-py (the docker Python SDK) drives berthd unchanged."""

from __future__ import annotations

import docker
import pytest


def test_run_returns_output(client: docker.DockerClient) -> None:
    out = client.containers.run("busybox", ["sh", "-c", "echo out; echo err >&2"], remove=True)
    assert out == b"out\n"


def test_detached_logs_and_exit_code(client: docker.DockerClient) -> None:
    c = client.containers.run("busybox", ["sh", "-c", "echo one; echo two >&2; exit 5"],
                              detach=True, name="pyexit")
    try:
        assert c.wait(timeout=30)["StatusCode"] == 5
        assert c.logs(stdout=True, stderr=False) == b"one\n"
        assert c.logs(stdout=False, stderr=True) == b"two\n"
        c.reload()
        assert c.status == "exited" and c.attrs["State"]["ExitCode"] == 5
    finally:
        c.remove(force=True)


def test_nonzero_exit_raises_container_error(client: docker.DockerClient) -> None:
    with pytest.raises(docker.errors.ContainerError) as info:
        client.containers.run("busybox", ["sh", "-c", "exit 9"], remove=True)
    assert info.value.exit_status == 9


def test_lists_and_errors(client: docker.DockerClient) -> None:
    assert any("busybox:latest" in i.tags for i in client.images.list())
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("does-not-exist")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("nope:1")
    c = client.containers.run("busybox", ["sleep", "30"], detach=True, name="pylist")
    try:
        assert [x.name for x in client.containers.list(filters={"name": "pylist"})] == ["pylist"]
        with pytest.raises(docker.errors.APIError) as info:
            c.remove()
        assert info.value.status_code == 409
    finally:
        c.remove(force=True)
