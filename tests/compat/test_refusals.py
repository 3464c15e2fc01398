"""Nothing is silently ignored, bad input is a 400, and what docker's clients rely on
behaves as on docker (issue 9): through the docker CLI, docker-py and raw API calls."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import docker
import pytest

from tests.compat.conftest import _running_daemon
from tests.compat.daemon import Daemon, UnixConnection, raw_request


def _container_count(daemon: Daemon) -> int:
    return len(daemon.docker("ps", "-aq").stdout.split())


@pytest.mark.parametrize(("flags", "field"), [
    (["--storage-opt", "size=1G"], "HostConfig.StorageOpt"),
    (["--gpus", "all"], "HostConfig.DeviceRequests"),
    (["--cgroup-parent", "elsewhere"], "HostConfig.CgroupParent"),
])
def test_docker_cli_refuses_what_berth_does_not_do(daemon: Daemon, flags: list[str],
                                                   field: str) -> None:
    before = _container_count(daemon)
    res = daemon.docker("run", "--rm", *flags, "busybox", "true", check=False)
    assert res.returncode != 0
    assert f"berth does not support {field} yet" in res.stderr
    assert _container_count(daemon) == before  # nothing was created


def test_docker_py_refuses_what_berth_does_not_do(client: docker.DockerClient) -> None:
    with pytest.raises(docker.errors.APIError) as info:
        client.containers.create("busybox", "true", storage_opt={"size": "1G"})
    assert info.value.status_code == 400
    assert "berth does not support HostConfig.StorageOpt yet" in str(info.value)


@pytest.mark.parametrize("body", [
    {"HostConfig": [1]}, {"Env": [{}]}, {"HostConfig": {"LogConfig": [1]}},
    {"HostConfig": {"LogConfig": {"Config": [1]}}}, {"HostConfig": {"RestartPolicy": [1]}},
    {"HostConfig": {"RestartPolicy": {"MaximumRetryCount": [1]}}}, {"WorkingDir": ["x"]},
    {"Labels": [[1]]}, {"StopTimeout": "x"}, {"HostConfig": {"Memory": 2**70}},
])
def test_malformed_create_bodies_are_400_json(daemon: Daemon, body: dict[str, Any]) -> None:
    status, ctype, data = raw_request(daemon, "POST", "/v1.45/containers/create",
                              {"Image": "busybox", "Cmd": ["true"], **body})
    assert status == 400 and ctype == "application/json", data
    assert "invalid JSON" in json.loads(data)["message"]


def test_malformed_exec_and_raw_bodies_are_400(daemon: Daemon) -> None:
    cid = daemon.docker("run", "-d", "busybox", "sleep", "60").stdout.strip()
    try:
        status, _, data = raw_request(daemon, "POST", f"/containers/{cid}/exec",
                              {"Cmd": ["true"], "DetachKeys": [None]})
        assert status == 400 and json.loads(data)["message"].startswith("invalid JSON")
        status, _, data = raw_request(daemon, "POST", "/containers/create", raw=b"{not json")
        assert status == 400 and "invalid JSON" in json.loads(data)["message"]
    finally:
        daemon.docker("rm", "-f", cid)


def test_top_level_runtime_is_ignored_as_docker_ignores_it(daemon: Daemon) -> None:
    status, _, data = raw_request(daemon, "POST", "/containers/create",
                          {"Image": "busybox", "Cmd": ["true"], "Runtime": ["x"]})
    assert status == 201, data
    daemon.docker("rm", json.loads(data)["Id"])


def test_inspect_reports_every_host_config_field(daemon: Daemon) -> None:
    cid = daemon.docker("create", "-m", "64m", "--init", "-t", "busybox", "true").stdout.strip()
    try:
        host = json.loads(daemon.docker("inspect", cid).stdout)[0]["HostConfig"]
        for key in ("CpusetCpus", "Tmpfs", "UTSMode", "CgroupnsMode", "PidMode", "GroupAdd",
                    "Isolation", "CapAdd", "Binds", "Mounts", "Devices", "Ulimits", "Sysctls",
                    "MaskedPaths", "ShmSize", "OomScoreAdj", "BlkioWeight"):
            assert key in host, key
        assert host["Memory"] == 64 * 1024 * 1024 and host["Init"] is True
        assert host["IpcMode"] == "private" and host["NetworkMode"] == "default"
    finally:
        daemon.docker("rm", cid)


def test_the_daemon_environment_never_reaches_a_container(monkeypatch) -> None:
    """A bare name in Env is kept as written, never filled in from berthd's environment;
    it unsets the image's value, as moby's ReplaceOrAppendEnvValues does."""
    monkeypatch.setenv("BERTH_DAEMON_SECRET", "s3cr3t")
    with _running_daemon() as d:
        c = docker.DockerClient(base_url=d.host, version="1.45", timeout=60)
        try:
            api_client = c.api
            created = api_client.create_container(
                "busybox", ["env"], environment=["BERTH_DAEMON_SECRET", "PATH"])
            api_client.start(created["Id"])
            assert api_client.wait(created["Id"])["StatusCode"] == 0
            out = api_client.logs(created["Id"]).decode()
            assert "s3cr3t" not in out and "BERTH_DAEMON_SECRET" not in out
            assert "PATH=" not in out  # a bare PATH unsets it, as on docker
            env = api_client.inspect_container(created["Id"])["Config"]["Env"]
            assert "BERTH_DAEMON_SECRET" in env
            api_client.remove_container(created["Id"])
        finally:
            c.close()


def test_exec_start_tty_decides_the_framing(client: docker.DockerClient) -> None:
    c = client.containers.run("busybox", ["sleep", "60"], detach=True)
    try:
        api_client = client.api
        # exec with a tty, started without one: multiplexed (docker-py decodes frames)
        ex = api_client.exec_create(c.id, ["echo", "hi"], tty=True)
        out = api_client.exec_start(ex["Id"], tty=False, demux=True)
        assert out == (b"hi\r\n", None)
        # exec without a tty, started with one: raw, exactly the bytes
        ex = api_client.exec_create(c.id, ["sh", "-c", "echo out; echo err >&2"])
        raw = api_client.exec_start(ex["Id"], tty=True)
        assert sorted(raw.splitlines()) == [b"err", b"out"]
    finally:
        c.remove(force=True)


def test_attach_without_stream_returns_the_logs(client: docker.DockerClient) -> None:
    c = client.containers.run("busybox", ["sh", "-c", "echo one; echo two >&2"], detach=True)
    try:
        c.wait(timeout=30)
        assert c.attach(stream=False, logs=True, stdout=True, stderr=True) == b"one\ntwo\n"
        assert c.attach(stream=False, logs=True, stdout=True, stderr=False) == b"one\n"
    finally:
        c.remove(force=True)


def test_wait_omits_error_when_there_is_none(daemon: Daemon) -> None:
    cid = daemon.docker("create", "busybox", "true").stdout.strip()
    try:
        daemon.docker("start", cid)
        status, _, data = raw_request(daemon, "POST", f"/containers/{cid}/wait")
        assert status == 200 and json.loads(data) == {"StatusCode": 0}
    finally:
        daemon.docker("rm", cid)


def test_log_driver_errors_are_dockers(daemon: Daemon) -> None:
    res = daemon.docker("run", "--rm", "--log-driver", "foo", "busybox", "true", check=False)
    assert 'error looking up logging plugin foo: plugin "foo" not found' in res.stderr
    res = daemon.docker("run", "--rm", "--log-driver", "syslog", "busybox", "true", check=False)
    assert "berth does not support the syslog log driver yet" in res.stderr


def test_a_client_hanging_up_is_not_an_error(daemon: Daemon) -> None:
    cid = daemon.docker("run", "-d", "busybox", "sh", "-c",
                        "while true; do echo x; sleep 0.1; done").stdout.strip()
    start = len(daemon.log())
    try:
        for path in (f"/containers/{cid}/logs?follow=1&stdout=1", f"/containers/{cid}/wait",
                     "/events"):
            conn = UnixConnection(str(daemon.socket))
            conn.request("GET" if "wait" not in path else "POST", path)
            resp = conn.getresponse()
            assert resp.status == 200
            resp.read1(1) if "logs" in path else None
            conn.sock.close()  # hang up mid-stream
        daemon.docker("rm", "-f", cid)
        cid = ""
        time.sleep(0.5)  # the daemon finds out at its next write
        log = daemon.log()[start:]
        assert "Traceback" not in log and " ERROR " not in log, log[-3000:]
    finally:
        if cid:
            daemon.docker("rm", "-f", cid, check=False)


@pytest.mark.parametrize(("flags", "name"), [
    (["--memory", "64m"], "memory"), (["--cpu-shares", "512"], "cpushares"),
    (["--shm-size", "128m"], "shmsize"),
    (["--cgroup-parent", "x"], "cgroupparent"),
])
def test_build_parameters_berth_ignores_are_refused(daemon: Daemon, tmp_path, flags: list[str],
                                                    name: str) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN true\n")
    res = subprocess.run(["docker", "-H", daemon.host, "build", *flags, "-q", str(tmp_path)],
                         env={**daemon.env(), "DOCKER_BUILDKIT": "0"}, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode != 0
    assert f"berth does not support the build parameter {name} yet" in res.stderr


def test_docker_update_of_what_berth_cannot_change_is_refused_by_name(daemon: Daemon) -> None:
    cid = daemon.docker("create", "busybox", "true").stdout.strip()
    try:
        res = daemon.docker("update", "--cpu-rt-period", "1000", cid, check=False)
        assert res.returncode != 0
        assert "berth does not support updating CpuRealtimePeriod yet" in res.stderr
        assert daemon.docker("update", "--memory", "64m", "nope", check=False).returncode != 0
    finally:
        daemon.docker("rm", cid)
