"""``save``/``load`` through berth's CLI, the docker CLI and docker-py, archives from and
for a real dockerd (20.10, the old ``<id>/layer.tar`` layout) and skopeo (an OCI layout),
and bad archives refused whole."""

from __future__ import annotations

import io
import json
import os
import pty
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.compat.daemon import BERTH, Daemon, inspect
from tests.tarballs import tar_of


def _image_ids(d: Daemon) -> set[str]:
    return set(d.berth("images", "-aq", "--no-trunc").stdout.split())


@pytest.fixture
def tagged(daemon: Daemon) -> Iterator[str]:
    """busybox under a name of the test's own, removed afterwards."""
    name = "savetest/bb:1"
    daemon.berth("tag", "busybox", name)
    try:
        yield name
    finally:
        daemon.berth("rmi", "-f", name, check=False)


def test_round_trip_after_the_image_is_gone(fresh_daemon: Daemon, tmp_path: Path) -> None:
    d = fresh_daemon
    image_id = str(inspect(d, "busybox")["Id"])
    archive = tmp_path / "bb.tar"
    d.berth("save", "-o", str(archive), "busybox")
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
    assert {"manifest.json", "index.json", "oci-layout", "repositories"} <= names
    assert manifest[0]["RepoTags"] == ["busybox:latest"]
    assert manifest[0]["Config"] == f"blobs/sha256/{image_id.split(':')[1]}"
    annotations = index["manifests"][0]["annotations"]
    assert annotations["io.containerd.image.name"] == "docker.io/library/busybox:latest"
    d.berth("rmi", "busybox")
    assert image_id not in _image_ids(d)
    out = d.berth("load", "-i", str(archive)).stdout
    assert out == "Loaded image: busybox:latest\n"
    assert str(inspect(d, "busybox")["Id"]) == image_id
    assert d.berth("run", "--rm", "busybox", "echo", "back").stdout == "back\n"
    # stdin, a second time: nothing to unpack, same answer
    with archive.open("rb") as f:
        again = subprocess.run([BERTH, "-H", d.host, "load"], stdin=f, capture_output=True,
                               text=True, timeout=60, check=True)
    assert again.stdout == "Loaded image: busybox:latest\n"


def test_save_refuses_a_terminal(daemon: Daemon) -> None:
    primary, secondary = pty.openpty()
    try:
        done = subprocess.run([BERTH, "-H", daemon.host, "save", "busybox"], stdout=secondary,
                              stderr=subprocess.PIPE, text=True, timeout=30)
    finally:
        os.close(primary)
        os.close(secondary)
    assert done.returncode == 1
    assert "cowardly refusing to save to a terminal. Use the -o flag or redirect" \
        in done.stderr


def test_docker_cli_save_pipe_load_and_run(daemon: Daemon, tagged: str) -> None:
    daemon.berth("rmi", tagged)  # busybox:latest keeps the image, and its layer
    daemon.berth("tag", "busybox", tagged)
    env = {**os.environ, "DOCKER_CONFIG": str(daemon.root / "dockercfg")}
    docker_cli = ["docker", "-H", daemon.host]
    save = subprocess.Popen([*docker_cli, "save", tagged], stdout=subprocess.PIPE, env=env)
    try:
        daemon.berth("rmi", tagged)
        load = subprocess.run([*docker_cli, "load"], stdin=save.stdout, capture_output=True,
                              text=True, timeout=60, env=env)
    finally:
        assert save.stdout is not None
        save.stdout.close()
        save.wait(30)
    assert save.returncode == 0
    assert load.returncode == 0, load.stderr
    assert load.stdout.strip() == f"Loaded image: {tagged}"
    assert daemon.docker("run", "--rm", tagged, "echo", "piped").stdout == "piped\n"


def test_docker_py_save_and_load(daemon: Daemon, tagged: str) -> None:
    client = docker.DockerClient(base_url=daemon.host, version="1.45", timeout=60)
    try:
        image = client.images.get(tagged)
        data = b"".join(image.save(named=tagged))
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        assert manifest[0]["RepoTags"] == [tagged]
        daemon.berth("rmi", tagged)
        loaded = client.images.load(data)
        assert [i.id for i in loaded] == [image.id]
        assert tagged in client.images.get(tagged).tags
        by_id = b"".join(image.save())  # by ID: loads untagged
        assert client.images.load(by_id)[0].id == image.id
    finally:
        client.close()


def _saved(daemon: Daemon, name: str) -> dict[str, bytes]:
    out = subprocess.run([BERTH, "-H", daemon.host, "save", name], capture_output=True,
                         timeout=60, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(out)) as tar:
        return {m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                for m in tar.getmembers() if m.isfile()}


def _load(daemon: Daemon, data: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([BERTH, "-H", daemon.host, "load"], input=data,
                          capture_output=True, timeout=60)


def _listing(daemon: Daemon) -> str:
    """``berth images`` without the CREATED column: "4 minutes ago" may tick over."""
    return daemon.berth("images", "--format",
                        "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}").stdout


def test_bad_archives_are_refused_whole(daemon: Daemon, tagged: str) -> None:
    members = _saved(daemon, tagged)
    daemon.berth("rmi", tagged)
    before = _image_ids(daemon), _listing(daemon)

    no_manifest = {k: v for k, v in members.items() if k not in ("manifest.json",
                                                                  "index.json")}
    done = _load(daemon, tar_of(no_manifest))
    assert done.returncode == 1
    assert b"invalid image archive: manifest.json not found" in done.stderr

    manifest = json.loads(members["manifest.json"])
    layer = manifest[0]["Layers"][0]
    corrupt = {**members, layer: members[layer][:-1] + b"x"}
    done = _load(daemon, tar_of(corrupt))
    assert done.returncode == 1 and b"digest mismatch" in done.stderr, done.stderr

    manifest[0]["Layers"] = ["../../etc/passwd"]
    escaping = {**members, "manifest.json": json.dumps(manifest).encode()}
    done = _load(daemon, tar_of(escaping))
    assert done.returncode == 1 and b"points outside the archive" in done.stderr

    done = _load(daemon, b"not a tar at all" * 64)
    assert done.returncode == 1 and b"invalid image archive" in done.stderr
    assert (_image_ids(daemon), _listing(daemon)) == before


def test_bad_archive_errors_come_in_the_stream(daemon: Daemon, tagged: str) -> None:
    """As dockerd: a 200 whose JSON stream carries the error (docker-py's ImageLoadError,
    not an APIError), the docker CLI printing it and exiting 1, and nothing loaded."""
    members = _saved(daemon, tagged)
    daemon.berth("rmi", tagged)
    before = _image_ids(daemon), _listing(daemon)
    manifest = json.loads(members["manifest.json"])
    layer = manifest[0]["Layers"][0]
    corrupt = tar_of({**members, layer: members[layer][:-1] + b"x"})
    client = docker.DockerClient(base_url=daemon.host, version="1.45", timeout=60)
    try:
        for body, message in ((b"not a tar at all" * 64, "invalid image archive"),
                              (corrupt, "digest mismatch")):
            with pytest.raises(docker.errors.ImageLoadError) as refused:
                client.images.load(body)
            assert message in str(refused.value)
            stream = list(client.api.load_image(body))  # a 200: no APIError
            assert [sorted(m) for m in stream] == [["error", "errorDetail"]]
            assert stream[0]["error"] == stream[0]["errorDetail"]["message"]
            env = {**os.environ, "DOCKER_CONFIG": str(daemon.root / "dockercfg")}
            done = subprocess.run(["docker", "-H", daemon.host, "load"], input=body, env=env,
                                  capture_output=True, timeout=60)
            assert done.returncode == 1 and message.encode() in done.stderr, done.stderr
            assert done.stdout == b""
    finally:
        client.close()
    assert (_image_ids(daemon), _listing(daemon)) == before


def test_oci_layout_archive_from_skopeo(daemon: Daemon, tagged: str, tmp_path: Path) -> None:
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed")
    docker_archive, oci_archive = tmp_path / "d.tar", tmp_path / "oci.tar"
    daemon.berth("save", "-o", str(docker_archive), tagged)
    subprocess.run(["skopeo", "copy", f"docker-archive:{docker_archive}",
                    f"oci-archive:{oci_archive}:ocitest/bb:2"], check=True,
                   capture_output=True, timeout=120)
    try:
        out = daemon.berth("load", "-i", str(oci_archive)).stdout
        assert out == "Loaded image: ocitest/bb:2\n"
        assert daemon.berth("run", "--rm", "ocitest/bb:2", "echo", "oci").stdout == "oci\n"
    finally:
        daemon.berth("rmi", "-f", "ocitest/bb:2", check=False)


def _docker(dockerd: Any, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*dockerd.cli, *args], capture_output=True, text=True,
                          timeout=120, env=dockerd.env, **kw)
    assert done.returncode == 0, f"docker {args}: {done.stderr}"
    return done


def test_real_dockerd_loads_and_runs_berthstar_of(daemon: Daemon, tagged: str,
                                                    real_dockerd: Any,
                                                    tmp_path: Path) -> None:
    archive = tmp_path / "berth.tar"
    daemon.berth("save", "-o", str(archive), tagged)
    out = _docker(real_dockerd, "load", "-i", str(archive)).stdout
    try:
        assert f"Loaded image: {tagged}" in out
        ran = _docker(real_dockerd, "run", "--rm", "--network", "none", tagged,
                      "echo", "in dockerd")
        assert ran.stdout == "in dockerd\n"
        assert _docker(real_dockerd, "image", "inspect", "-f", "{{.Id}}", tagged
                       ).stdout.strip() == inspect(daemon, tagged)["Id"]
    finally:
        subprocess.run([*real_dockerd.cli, "rmi", "-f", tagged], capture_output=True,
                       env=real_dockerd.env, timeout=60)


def test_berth_loads_and_runs_a_real_dockerdtar_of(daemon: Daemon, real_dockerd: Any,
                                                     tmp_path: Path) -> None:
    name = "fromdocker/bb:1"
    archive = tmp_path / "docker.tar"
    _docker(real_dockerd, "tag", "busybox:latest", name)
    try:
        _docker(real_dockerd, "save", "-o", str(archive), name)
        with tarfile.open(archive) as tar:  # 20.10's layout: <v1 id>/layer.tar
            assert any(n.endswith("/layer.tar") for n in tar.getnames())
        docker_id = _docker(real_dockerd, "image", "inspect", "-f", "{{.Id}}", name
                            ).stdout.strip()
        out = daemon.berth("load", "-i", str(archive)).stdout
        assert out == f"Loaded image: {name}\n"
        assert inspect(daemon, name)["Id"] == docker_id
        assert daemon.berth("run", "--rm", name, "echo", "from dockerd").stdout \
            == "from dockerd\n"
    finally:
        daemon.berth("rmi", "-f", name, check=False)
        subprocess.run([*real_dockerd.cli, "rmi", name], capture_output=True,
                       env=real_dockerd.env, timeout=60)
