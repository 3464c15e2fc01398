"""A real dockerd (Debian ``docker.io``) and berthd exchange images through a registry,
``berth registry serve`` and the CNCF distribution registry (Debian ``docker-registry``)
alike: dockerd pushes, pulls its own image back, berthd pulls it and runs it; berthd
pushes, dockerd pulls that and runs it."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.compat.daemon import Daemon, inspect, registry_server
from tests.compat.seed import hello_layer, make_image, push_image
from tests.unit.registry.server.process import distribution_registry

DISTRIBUTION = shutil.which("docker-registry")


@contextlib.contextmanager
def _registry(kind: str, root: Path) -> Iterator[str]:
    if kind == "berth":
        with registry_server(root) as address:
            yield address
        return
    if DISTRIBUTION is None:
        pytest.skip("the docker-registry binary is not installed")
    root.mkdir()
    with distribution_registry(DISTRIBUTION, root / "data", root) as port:
        yield f"127.0.0.1:{port}"


def _docker(dockerd: Any, *args: str, timeout: float = 120) -> str:
    done = subprocess.run([*dockerd.cli, *args], capture_output=True, text=True,
                          env=dockerd.env, timeout=timeout, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"docker {args}: {done.stderr}"
    return done.stdout


@pytest.mark.parametrize("kind", ["berth", "distribution"])
def test_dockerd_pushes_and_berthd_pulls(daemon: Daemon, real_dockerd: Any, tmp_path: Path,
                                         kind: str) -> None:
    with _registry(kind, tmp_path / "registry") as registry:
        ref = f"{registry}/interop/fromdocker:1"
        _docker(real_dockerd, "tag", "busybox:latest", ref)
        pushed = _docker(real_dockerd, "push", ref)
        digest = next(w for w in pushed.split() if w.startswith("sha256:"))
        _docker(real_dockerd, "rmi", ref)
        pulled = _docker(real_dockerd, "pull", ref)
        assert f"Digest: {digest}" in pulled, pulled
        assert _docker(real_dockerd, "run", "--rm", "--network", "none", ref,
                       "echo", "docker ran it") == "docker ran it\n"
        try:
            out = daemon.berth("pull", ref, timeout=120).stdout
            assert f"Digest: {digest}" in out, out
            assert daemon.berth("run", "--rm", ref, "echo", "berth ran it").stdout == \
                "berth ran it\n"
            assert inspect(daemon, ref)["RepoDigests"] == [
                f"{registry}/interop/fromdocker@{digest}"]
        finally:
            daemon.berth("rmi", "-f", ref, check=False)
            subprocess.run([*real_dockerd.cli, "rmi", "-f", ref], env=real_dockerd.env,
                           capture_output=True, check=False)


@pytest.mark.parametrize("kind", ["berth", "distribution"])
def test_berthd_pushes_and_dockerd_pulls(daemon: Daemon, real_dockerd: Any, tmp_path: Path,
                                         kind: str) -> None:
    with _registry(kind, tmp_path / "registry") as registry:
        seeded = f"{registry}/interop/seed:1"
        push_image(registry, "interop/seed:1",
                   make_image(daemon, [hello_layer("made by berth\n")]))
        ref = f"{registry}/interop/fromberth:2"
        bare = f"{registry}/interop/busybox:1"  # berth's own bootstrapped image, as it is
        try:
            daemon.berth("pull", seeded, timeout=120)
            daemon.berth("tag", seeded, ref)
            daemon.berth("tag", "busybox", bare)
            for name in (ref, bare):
                daemon.berth("push", name, timeout=120)
            _docker(real_dockerd, "pull", ref)
            assert _docker(real_dockerd, "run", "--rm", "--network", "none", ref,
                           "cat", "/hello.txt") == "made by berth\n"
            _docker(real_dockerd, "pull", bare)
            assert _docker(real_dockerd, "run", "--rm", "--network", "none", bare,
                           "echo", "ok") == "ok\n"
        finally:
            for name in (seeded, ref, bare):
                daemon.berth("rmi", name, check=False)
                subprocess.run([*real_dockerd.cli, "rmi", "-f", name], env=real_dockerd.env,
                               capture_output=True, check=False)
