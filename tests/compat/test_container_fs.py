"""docker cp / diff / commit (issue 12) through the real docker CLI and docker-py."""

from __future__ import annotations

import io
import json
import os
import secrets
import tarfile
from pathlib import Path

import docker
import pytest

from berth import daemon as berthd
from tests.compat.daemon import Daemon

# The routes are served once daemon.py registers them (the integrator's one line, issue
# 12); until then these tests would only test the wiring's absence.
pytestmark = pytest.mark.skipif(
    "ContainerFsRoutes" not in Path(berthd.__file__).read_text(),
    reason="ContainerFsRoutes is not registered in daemon.py yet (issue 12 wiring)")


def test_docker_cp_both_ways_running_and_stopped(daemon: Daemon, tmp_path: Path) -> None:
    name = f"cp-{secrets.token_hex(3)}"
    daemon.docker("run", "-d", "--name", name, "busybox", "sleep", "600")
    try:
        src = tmp_path / "in.txt"
        src.write_text("from the host\n")
        os.chown(src, 1234, 1234)
        # looked up first: the running container's overlay caches the miss
        assert daemon.docker("exec", name, "cat", "/tmp/in.txt", check=False).returncode
        daemon.docker("cp", str(src), f"{name}:/tmp/")
        owner = daemon.docker("exec", name, "stat", "-c", "%u:%g", "/tmp/in.txt").stdout
        assert owner == "1234:1234\n"  # the archive's owner
        out = daemon.docker("exec", name, "cat", "/tmp/in.txt").stdout
        assert out == "from the host\n"  # seen inside the running container
        (tmp_path / "dir" / "sub").mkdir(parents=True)
        (tmp_path / "dir" / "sub" / "f").write_text("f")
        daemon.docker("cp", str(tmp_path / "dir"), f"{name}:/tmp/copied")
        assert daemon.docker("exec", name, "cat", "/tmp/copied/sub/f").stdout == "f"

        daemon.docker("exec", name, "sh", "-c", "echo made > /tmp/made; ln -s / /tmp/root")
        daemon.docker("cp", f"{name}:/tmp/made", str(tmp_path / "made"))
        assert (tmp_path / "made").read_text() == "made\n"
        daemon.docker("cp", f"{name}:/etc", str(tmp_path / "etc"))
        assert "root:" in (tmp_path / "etc" / "passwd").read_text()
        # a symlink to "/" leads into the container, never to the host
        daemon.docker("cp", str(src), f"{name}:/tmp/root/")
        assert daemon.docker("exec", name, "cat", "/in.txt").stdout == "from the host\n"
        assert not Path("/in.txt").exists() or Path("/in.txt").read_text() != "from the host\n"

        missing = daemon.docker("cp", f"{name}:/nope", str(tmp_path / "x"), check=False)
        assert missing.returncode != 0
        assert "Could not find the file /nope in container" in missing.stderr

        daemon.docker("stop", "-t", "0", name)
        daemon.docker("cp", f"{name}:/tmp/in.txt", str(tmp_path / "back.txt"))
        assert (tmp_path / "back.txt").read_text() == "from the host\n"
        daemon.docker("cp", str(src), f"{name}:/stopped.txt")
        daemon.docker("start", name)
        assert daemon.docker("exec", name, "cat", "/stopped.txt").stdout == "from the host\n"
    finally:
        daemon.docker("rm", "-f", name, check=False)


def test_docker_cp_archive_mode_owns_files_by_the_containers_user(daemon: Daemon,
                                                                   tmp_path: Path) -> None:
    name = f"cpa-{secrets.token_hex(3)}"
    daemon.docker("run", "-d", "--name", name, "-u", "nobody", "busybox", "sleep", "600")
    try:
        src = tmp_path / "in.txt"
        src.write_text("x")
        os.chown(src, 1234, 1234)
        daemon.docker("cp", "-a", str(src), f"{name}:/tmp/as-user.txt")
        owner = daemon.docker("exec", name, "stat", "-c", "%u:%g", "/tmp/as-user.txt").stdout
        assert owner == "65534:65534\n"  # -a: the container's Config.User (moby)
        daemon.docker("cp", str(src), f"{name}:/tmp/as-tar.txt")
        owner = daemon.docker("exec", name, "stat", "-c", "%u:%g", "/tmp/as-tar.txt").stdout
        assert owner == "1234:1234\n"
    finally:
        daemon.docker("rm", "-f", name, check=False)


def test_docker_diff_and_commit(daemon: Daemon, tags: list[str]) -> None:
    name = f"diff-{secrets.token_hex(3)}"
    tag = f"committed-{secrets.token_hex(3)}:v1"
    tags.append(tag)
    daemon.docker("run", "-d", "--name", name, "busybox", "sh", "-c",
                  "echo hi > /tmp/hello; rm /bin/ls; mkdir /new; sleep 600")
    try:
        for _ in range(100):
            diff = daemon.docker("diff", name).stdout.splitlines()
            if "A /new" in diff:
                break
        assert {"C /tmp", "A /tmp/hello", "C /bin", "D /bin/ls", "A /new"} <= set(diff)
        assert not any(line.endswith(("/etc/hosts", "/etc/resolv.conf")) for line in diff)
        image_id = daemon.docker("commit", "-c", "CMD [\"cat\", \"/tmp/hello\"]",
                                 "-c", "ENV COMMITTED=1", "-m", "a message", "-a", "me",
                                 name, tag).stdout.strip()
        assert image_id.startswith("sha256:")
        assert daemon.docker("inspect", "-f", "{{.State.Status}}", name).stdout.strip() \
            == "running"  # paused while committing, running again after
        assert daemon.docker("run", "--rm", tag).stdout == "hi\n"
        gone = daemon.docker("run", "--rm", tag, "ls", check=False)
        assert gone.returncode != 0
        config = json.loads(daemon.docker("image", "inspect", tag).stdout)[0]
        assert "COMMITTED=1" in config["Config"]["Env"]
        assert config["Author"] == "me" and config["Comment"] == "a message"
    finally:
        daemon.docker("rm", "-f", name, check=False)


def test_docker_py_archive_diff_commit(client: docker.DockerClient,
                                       tags: list[str]) -> None:
    tag = f"pycommit-{secrets.token_hex(3)}"
    tags.append(f"{tag}:latest")
    c = client.containers.run("busybox", ["sleep", "600"], detach=True)
    try:
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tf:
            info = tarfile.TarInfo("py.txt")
            info.size = 2
            tf.addfile(info, io.BytesIO(b"py"))
        assert c.put_archive("/tmp", data.getvalue())
        chunks, stat = c.get_archive("/tmp/py.txt")
        assert stat["name"] == "py.txt" and stat["size"] == 2
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tf:
            member = tf.extractfile("py.txt")
            assert member is not None and member.read() == b"py"
        _, root_stat = c.get_archive("/bin/sh")
        assert root_stat["name"] == "sh"
        diff = c.diff()
        assert {"Path": "/tmp/py.txt", "Kind": 1} in diff
        image = c.commit(repository=tag, changes=["LABEL from=py"])
        assert image.labels.get("from") == "py"
        out = client.containers.run(image.id, ["cat", "/tmp/py.txt"], remove=True)
        assert out == b"py"
        try:
            c.put_archive("/nope", data.getvalue())
        except docker.errors.NotFound as err:
            assert "Could not find the file /nope" in str(err)
        else:
            raise AssertionError("a PUT into a missing path succeeded")
    finally:
        c.remove(force=True)


def test_docker_cp_reaches_volumes_and_binds(daemon: Daemon, tmp_path: Path) -> None:
    name, vol = f"cpv-{secrets.token_hex(3)}", f"cpvol-{secrets.token_hex(3)}"
    bind = tmp_path / "bind"
    bind.mkdir()
    daemon.docker("run", "-d", "--name", name, "-v", f"{vol}:/data",
                  "-v", f"{bind}:/bound:ro", "busybox", "sleep", "600")
    try:
        src = tmp_path / "f.txt"
        src.write_text("vol")
        daemon.docker("cp", str(src), f"{name}:/data/")
        assert daemon.docker("exec", name, "cat", "/data/f.txt").stdout == "vol"
        refused = daemon.docker("cp", str(src), f"{name}:/bound/", check=False)
        assert refused.returncode != 0 and "marked read-only" in refused.stderr
        (bind / "host.txt").write_text("host")
        daemon.docker("cp", f"{name}:/bound/host.txt", str(tmp_path / "back"))
        assert (tmp_path / "back").read_text() == "host"
        diff = daemon.docker("diff", name).stdout.splitlines()
        # the mount points themselves, as docker's diff lists them; nothing below them
        assert {"A /data", "A /bound"} <= set(diff), diff
        assert not any(line.split()[-1].startswith(("/data/", "/bound/")) for line in diff)
        daemon.docker("stop", "-t", "0", name)
        daemon.docker("cp", f"{name}:/data/f.txt", str(tmp_path / "stopped"))
        assert (tmp_path / "stopped").read_text() == "vol"
    finally:
        daemon.docker("rm", "-f", "-v", name, check=False)
        daemon.docker("volume", "rm", "-f", vol, check=False)
