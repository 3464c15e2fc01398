"""Push, login and the daemon's registry configuration, through the berth CLI, the real
``docker`` CLI and docker-py, against berth's registry and the CNCF one (all on loopback).

The pushed image is imported from a tarball holding the host's busybox and one file, so a
fresh daemon really downloads it (its own bootstrapped busybox shares no layer with it)."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.compat.daemon import BERTH, Daemon, free_port, inspect, registry_server
from tests.unit.registry.server.process import distribution_registry

USER, PASSWORD = "alice", "s3cret-pw"
HELLO = b"hello from a pushed image\n"
DISTRIBUTION = shutil.which("docker-registry")


def _app_tar(path: Path) -> Path:
    """A root filesystem of busybox plus /hello.txt."""
    with tarfile.open(path, "w") as tar:
        tar.add("/bin/busybox", "bin/busybox")
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime = len(HELLO), 1700000000
        tar.addfile(info, io.BytesIO(HELLO))
    return path


@pytest.fixture(scope="module")
def app(daemon: Daemon, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local image ``pushtest/app:1`` that only this module has."""
    tar = _app_tar(tmp_path_factory.mktemp("app") / "app.tar")
    daemon.berth("import", str(tar), "pushtest/app:1")
    yield "pushtest/app:1"
    daemon.berth("rmi", "-f", "pushtest/app:1", check=False)


@pytest.fixture(scope="module")
def registry(daemon: Daemon, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with registry_server(tmp_path_factory.mktemp("registry")) as address:
        yield address


@pytest.fixture
def htpasswd_registry(tmp_path: Path) -> Iterator[str]:
    htpasswd = tmp_path / "htpasswd"
    line = subprocess.run(["htpasswd", "-Bbn", USER, PASSWORD], check=True,
                          capture_output=True, text=True).stdout.strip()
    htpasswd.write_text(line + "\n")
    with registry_server(tmp_path / "root", "--htpasswd", str(htpasswd)) as address:
        yield address


def berth(d: Daemon, config: Path, *args: str, input: str | None = None
          ) -> subprocess.CompletedProcess[str]:
    """``berth`` with its docker config.json under ``config``."""
    env = {**os.environ, "DOCKER_CONFIG": str(config)}
    return subprocess.run([BERTH, "-H", d.host, *args], capture_output=True, text=True,
                          timeout=120, env=env, input=input,
                          stdin=subprocess.DEVNULL if input is None else None)


def _digest_line(out: str, tag: str) -> str:
    lines = [line for line in out.splitlines() if line.startswith(f"{tag}: digest: sha256:")]
    assert len(lines) == 1, out
    return lines[0].split()[2]


def _rmi(d: Daemon, *names: str) -> None:
    d.berth("rmi", "-f", *names, check=False)


def test_push_skips_existing_mounts_and_pulls_back(daemon: Daemon, fresh_daemon: Daemon,
                                                   app: str, registry: str) -> None:
    first, second = f"{registry}/pushtest/app:1", f"{registry}/pushtest/other:1"
    daemon.berth("tag", app, first)
    daemon.berth("tag", app, second)
    try:
        out = daemon.berth("push", first).stdout
        assert out.startswith(f"The push refers to repository [{registry}/pushtest/app]\n")
        assert ": Preparing" in out and ": Pushed" in out, out
        digest = _digest_line(out, "1")
        again = daemon.berth("push", first).stdout
        assert ": Layer already exists" in again and ": Pushed" not in again, again
        assert _digest_line(again, "1") == digest
        mounted = daemon.berth("push", second).stdout
        assert ": Mounted from pushtest/app" in mounted, mounted
        assert _digest_line(mounted, "1") == digest
        assert f"{registry}/pushtest/app@{digest}" in inspect(daemon, first)["RepoDigests"]

        # a daemon that never saw the image downloads it, runs it, and pushing the pulled
        # image elsewhere keeps its digest (the registry's bytes are kept as served)
        pulled = fresh_daemon.berth("pull", second).stdout
        assert "Pull complete" in pulled and f"Digest: {digest}" in pulled, pulled
        assert pulled.endswith(f"{second}\n")
        ran = fresh_daemon.berth("run", "--rm", second, "/bin/busybox", "cat", "/hello.txt")
        assert ran.stdout == HELLO.decode()
        copy = f"{registry}/pushtest/copy:2"
        fresh_daemon.berth("tag", second, copy)
        out = fresh_daemon.berth("push", copy).stdout
        assert ": Mounted from pushtest/other" in out, out
        assert _digest_line(out, "2") == digest
    finally:
        _rmi(daemon, first, second)


def test_push_errors(daemon: Daemon, registry: str) -> None:
    missing = daemon.berth("push", f"{registry}/nosuch/img:1", check=False)
    assert missing.returncode == 1
    assert missing.stderr == "Error response from daemon: An image does not exist locally " \
        f"with the tag: {registry}/nosuch/img\n"
    target = f"127.0.0.1:{free_port()}/x/y:1"
    daemon.berth("tag", "busybox", target)
    try:
        dead = daemon.berth("push", target, check=False)
        assert dead.returncode == 1, dead
        assert dead.stdout.startswith("The push refers to repository")
        assert "connect" in dead.stderr.lower(), dead.stderr
    finally:
        _rmi(daemon, target)


@pytest.mark.skipif(DISTRIBUTION is None, reason="the docker-registry binary is not installed")
def test_push_to_distribution_and_pull_back(daemon: Daemon, app: str, tmp_path: Path) -> None:
    assert DISTRIBUTION is not None
    with distribution_registry(DISTRIBUTION, tmp_path / "root", tmp_path) as port:
        first, second = f"127.0.0.1:{port}/cncf/app:1", f"127.0.0.1:{port}/cncf/copy:1"
        daemon.berth("tag", app, first)
        daemon.berth("tag", app, second)
        try:
            out = daemon.berth("push", first).stdout
            assert ": Pushed" in out, out
            digest = _digest_line(out, "1")
            assert ": Layer already exists" in daemon.berth("push", first).stdout
            mounted = daemon.berth("push", second).stdout
            assert ": Mounted from cncf/app" in mounted, mounted
            _rmi(daemon, first, second)
            pulled = daemon.berth("pull", second).stdout
            assert f"Digest: {digest}" in pulled, pulled
            ran = daemon.berth("run", "--rm", second, "/bin/busybox", "cat", "/hello.txt")
            assert ran.stdout == HELLO.decode()
        finally:
            _rmi(daemon, first, second)


def test_login_push_pull_logout(daemon: Daemon, app: str, htpasswd_registry: str,
                                tmp_path: Path) -> None:
    reg, config = htpasswd_registry, tmp_path / "cfg"
    image = f"{reg}/private/app:1"
    daemon.berth("tag", app, image)
    try:
        denied = berth(daemon, config, "push", image)
        assert denied.returncode == 1 and "authentication required" in denied.stderr, denied

        wrong = berth(daemon, config, "login", "-u", USER, "-p", "wrong", reg)
        assert wrong.returncode == 1
        assert f"login attempt to http://{reg}/v2/ failed with status: 401 Unauthorized" \
            in wrong.stderr, wrong.stderr
        assert not (config / "config.json").exists()

        ok = berth(daemon, config, "login", "-u", USER, "--password-stdin", reg,
                   input=PASSWORD + "\n")
        assert ok.returncode == 0 and ok.stdout == "Login Succeeded\n", ok
        stored = json.loads((config / "config.json").read_text())
        assert stored["auths"][reg]["auth"] == \
            base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        assert (config / "config.json").stat().st_mode & 0o077 == 0

        pushed = berth(daemon, config, "push", image)
        assert pushed.returncode == 0 and ": Pushed" in pushed.stdout, pushed
        _rmi(daemon, image)
        pulled = berth(daemon, config, "pull", "-q", image)
        assert pulled.returncode == 0 and pulled.stdout == f"{image}\n", pulled
        ran = daemon.berth("run", "--rm", image, "/bin/busybox", "cat", "/hello.txt")
        assert ran.stdout == HELLO.decode()

        out = berth(daemon, config, "logout", reg)
        assert out.stdout == f"Removing login credentials for {reg}\n"
        assert reg not in json.loads((config / "config.json").read_text())["auths"]
        assert berth(daemon, config, "logout", reg).stdout == f"Not logged in to {reg}\n"
        _rmi(daemon, image)
        refused = berth(daemon, config, "pull", image)
        assert refused.returncode == 1 and "authentication required" in refused.stderr
    finally:
        _rmi(daemon, image)


def test_docker_cli_login_tag_push(daemon: Daemon, htpasswd_registry: str) -> None:
    reg = htpasswd_registry
    image = f"{reg}/dockercli/bb:7"
    wrong = daemon.docker("login", "-u", USER, "--password-stdin", reg, input="nope\n",
                          check=False)
    assert wrong.returncode == 1
    assert "Error response from daemon: login attempt to" in wrong.stderr, wrong.stderr
    ok = daemon.docker("login", "-u", USER, "--password-stdin", reg, input=PASSWORD + "\n")
    assert "Login Succeeded" in ok.stdout
    try:
        daemon.docker("tag", "busybox", image)
        assert inspect(daemon, image)["Id"] == inspect(daemon, "busybox")["Id"]
        out = daemon.docker("push", image).stdout
        assert out.startswith(f"The push refers to repository [{reg}/dockercli/bb]\n"), out
        assert ": Pushed" in out
        digest = _digest_line(out, "7")
        again = daemon.docker("push", image).stdout
        assert ": Layer already exists" in again and _digest_line(again, "7") == digest
        _rmi(daemon, image)
        pulled = daemon.docker("pull", image).stdout
        assert f"Digest: {digest}" in pulled, pulled
    finally:
        daemon.docker("logout", reg, check=False)
        _rmi(daemon, image)


def test_docker_py_login_and_push_stream(daemon: Daemon, app: str,
                                         htpasswd_registry: str) -> None:
    reg = htpasswd_registry
    client = docker.DockerClient(base_url=daemon.host, version="1.45", timeout=120)
    try:
        with pytest.raises(docker.errors.APIError) as refused:
            client.login(USER, "wrong", registry=reg, reauth=True,
                         dockercfg_path=os.devnull)
        assert refused.value.status_code == 401
        answer = client.login(USER, PASSWORD, registry=reg, reauth=True,
                              dockercfg_path=os.devnull)
        assert answer["Status"] == "Login Succeeded"
        client.images.get(app).tag(f"{reg}/dockerpy/app", "3")
        events = list(client.images.push(
            f"{reg}/dockerpy/app", "3", stream=True, decode=True,
            auth_config={"username": USER, "password": PASSWORD}))
        assert not [e for e in events if "error" in e], events
        assert events[0]["status"] == f"The push refers to repository [{reg}/dockerpy/app]"
        pushing = [e for e in events if e.get("status") == "Pushing"]
        assert pushing and pushing[-1]["progressDetail"]["total"] > 0, events
        assert pushing[-1]["progress"].startswith("[")
        aux = [e["aux"] for e in events if "aux" in e]
        assert len(aux) == 1 and aux[0]["Tag"] == "3" and aux[0]["Size"] > 0
        assert f"3: digest: {aux[0]['Digest']} size: {aux[0]['Size']}" in \
            [e.get("status") for e in events]
    finally:
        client.close()
        _rmi(daemon, f"{reg}/dockerpy/app:3")


def test_mirrors_default_registry_and_insecure(daemon: Daemon, app: str, tmp_path: Path
                                               ) -> None:
    """A mirror for a registry name that does not exist (``registry.example:5000``): the
    pull must succeed through it (a dead mirror first is skipped), never reaching the
    registry itself. The default registry serves unqualified names."""
    with registry_server(tmp_path / "mirror") as mirror:
        for pushed in (f"{mirror}/mirrored/app:1", f"{mirror}/library/hello:1"):
            daemon.berth("tag", app, pushed)
            daemon.berth("push", pushed)
            _rmi(daemon, pushed)
        dead = f"http://127.0.0.1:{free_port()}"
        toml = tmp_path / "daemon.toml"
        toml.write_text(
            f'default_registry = "{mirror}"\n'
            'insecure_registries = ["10.20.0.0/16", "plain.example:5000"]\n'
            "[registry_mirrors]\n"
            f'"registry.example:5000" = ["{dead}", "http://{mirror}"]\n')
        other = Daemon(Path(tempfile.mkdtemp(prefix="b", dir="/tmp")))
        try:
            other.start("--config-file", str(toml))
            image = "registry.example:5000/mirrored/app:1"
            out = other.berth("pull", image).stdout
            assert "Pull complete" in out and f"Status: Downloaded newer image for {image}" \
                in out, out
            ran = other.berth("run", "--rm", image, "/bin/busybox", "cat", "/hello.txt")
            assert ran.stdout == HELLO.decode()
            out = other.berth("pull", "hello:1").stdout
            assert out.endswith("docker.io/library/hello:1\n"), out
            ran = other.berth("run", "--rm", "hello:1", "/bin/busybox", "cat", "/hello.txt")
            assert ran.stdout == HELLO.decode()
            info = json.loads(other.berth("info", "--format", "{{json .RegistryConfig}}").stdout)
            assert "10.20.0.0/16" in info["InsecureRegistryCIDRs"]
            assert info["IndexConfigs"]["registry.example:5000"]["Mirrors"] == \
                [f"{dead}/", f"http://{mirror}/"]
            assert info["IndexConfigs"]["plain.example:5000"]["Secure"] is False
            assert info["IndexConfigs"]["docker.io"]["Secure"] is True
        finally:
            other.cleanup()
