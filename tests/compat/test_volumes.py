"""The docker CLI, docker-py and docker-compose against berthd's volumes (issue 12), the
cases of docs/design/volumes.md not covered by test_docker_volumes.py: host binds (read-only,
created when missing with ``-v``, refused with ``--mount``), ``volume ls`` filters,
``--mount`` of each type, ``--tmpfs`` options, ``--volumes-from``, an image's VOLUME seeded
with the image's content, ``system df -v`` and ``system prune --volumes``, the Jenkins
example."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.compat.daemon import Daemon


@pytest.fixture
def names(daemon: Daemon) -> Iterator[str]:
    """A prefix for this test's containers, volumes and images, all removed afterwards."""
    prefix = f"vx{secrets.token_hex(3)}"
    yield prefix
    ids = daemon.docker("ps", "-aq", "--filter", f"name={prefix}").stdout.split()
    if ids:
        daemon.docker("rm", "-fv", *ids, check=False)
    vols = [v for v in daemon.docker("volume", "ls", "-q").stdout.split()
            if v.startswith(prefix)]
    if vols:
        daemon.docker("volume", "rm", "-f", *vols, check=False)
    imgs = [i for i in daemon.docker("images", "--format", "{{.Repository}}").stdout.split()
            if i.startswith(prefix)]
    if imgs:
        daemon.docker("rmi", "-f", *imgs, check=False)


def _volumes(daemon: Daemon) -> set[str]:
    return set(daemon.docker("volume", "ls", "-q").stdout.split())


def test_host_bind_rw_ro_created_and_kept(daemon: Daemon, names: str,
                                          tmp_path: Path) -> None:
    host = tmp_path / "webapp"
    host.mkdir()
    (host / "index").write_text("from-host\n")
    out = daemon.docker("run", "--name", f"{names}b", "-v", f"{host}:/opt/webapp",
                        "busybox", "sh", "-c",
                        "cat /opt/webapp/index; echo back > /opt/webapp/new").stdout
    assert out == "from-host\n"
    assert (host / "new").read_text() == "back\n"
    daemon.docker("rm", "-v", f"{names}b")
    assert (host / "index").exists() and (host / "new").exists()
    ro = daemon.docker("run", "--rm", "-v", f"{host}:/opt/webapp:ro", "busybox", "sh",
                       "-c", "touch /opt/webapp/x 2>&1; cat /opt/webapp/index",
                       check=False).stdout
    assert "Read-only file system" in ro and "from-host" in ro
    assert not (host / "x").exists()
    missing = tmp_path / "made" / "here"
    daemon.docker("run", "--rm", "-v", f"{missing}:/m", "busybox", "touch", "/m/f")
    assert (missing / "f").exists()
    refused = daemon.docker("run", "--rm", "--mount",
                            f"type=bind,src={tmp_path / 'absent'},dst=/m", "busybox",
                            "true", check=False)
    assert refused.returncode == 125
    assert (f'invalid mount config for type "bind": bind source path does not exist: '
            f"{tmp_path / 'absent'}") in refused.stderr
    assert not (tmp_path / "absent").exists()


def test_volume_ls_filters_inspect_rm_in_use_prune(daemon: Daemon, names: str) -> None:
    used, free, labelled = f"{names}used", f"{names}free", f"{names}lab"
    daemon.docker("volume", "create", used)
    daemon.docker("volume", "create", free)
    daemon.docker("volume", "create", "--label", f"owner={names}", labelled)
    daemon.docker("create", "--name", f"{names}c", "-v", f"{used}:/u", "busybox")
    dangling = set(daemon.docker("volume", "ls", "-q", "-f", "dangling=true").stdout.split())
    assert {free, labelled} <= dangling and used not in dangling
    assert used in daemon.docker("volume", "ls", "-q", "-f",
                                 "dangling=false").stdout.split()
    assert daemon.docker("volume", "ls", "-q", "-f",
                         f"label=owner={names}").stdout.split() == [labelled]
    assert daemon.docker("volume", "ls", "-q", "-f",
                         f"name={names}fr").stdout.split() == [free]
    doc = json.loads(daemon.docker("volume", "inspect", labelled).stdout)[0]
    assert doc["Name"] == labelled and doc["Driver"] == "local"
    assert doc["Labels"] == {"owner": names} and doc["Scope"] == "local"
    assert Path(doc["Mountpoint"]).is_dir()
    assert daemon.docker("volume", "inspect", "-f", "{{.Driver}}",
                         used).stdout == "local\n"
    busy = daemon.docker("volume", "rm", used, check=False)
    assert busy.returncode == 1 and "volume is in use" in busy.stderr
    # prune without -a keeps named volumes (API >= 1.42 prunes only anonymous ones)
    daemon.docker("volume", "prune", "-f", "--filter", f"label=owner={names}")
    assert labelled in _volumes(daemon)
    out = daemon.docker("volume", "prune", "-af", "--filter", f"label=owner={names}").stdout
    assert labelled in out and labelled not in _volumes(daemon)
    daemon.docker("rm", f"{names}c")
    daemon.docker("volume", "rm", used, free)
    assert not {used, free} & _volumes(daemon)


def test_jenkins_home_outlives_its_container(daemon: Daemon, names: str) -> None:
    """The talk's example: jenkins_home in a named volume, the container replaced."""
    vol = f"{names}jenkins"
    daemon.docker("run", "--name", f"{names}j1", "-v", f"{vol}:/var/jenkins_home",
                  "busybox", "sh", "-c",
                  "mkdir -p /var/jenkins_home/jobs/build && echo 42 > "
                  "/var/jenkins_home/jobs/build/nextBuildNumber")
    daemon.docker("rm", "-v", f"{names}j1")  # -v takes anonymous volumes only
    assert vol in _volumes(daemon)
    out = daemon.docker("run", "--rm", "--name", f"{names}j2", "-v",
                        f"{vol}:/var/jenkins_home", "busybox", "cat",
                        "/var/jenkins_home/jobs/build/nextBuildNumber").stdout
    assert out == "42\n"


def test_mount_flag_types_and_tmpfs_options(daemon: Daemon, names: str,
                                            tmp_path: Path) -> None:
    vol = f"{names}m"
    (tmp_path / "f").write_text("bound\n")
    script = ("echo v > /vol/f && cat /bind/f && grep ' /tmp ' /proc/mounts"
              " && grep ' /run ' /proc/mounts && touch /bind/nope 2>&1; true")
    out = daemon.docker(
        "run", "--rm", "--name", f"{names}c",
        "--mount", f"type=volume,source={vol},target=/vol,volume-label=k={names}",
        "--mount", f"type=bind,source={tmp_path},target=/bind,readonly",
        "--mount", "type=tmpfs,target=/tmp,tmpfs-size=8m,tmpfs-mode=1770",
        "--tmpfs", "/run:size=16m", "busybox", "sh", "-c", script).stdout
    lines = out.splitlines()
    assert lines[0] == "bound"
    tmp_line = next(ln for ln in lines if " /tmp " in ln)
    run_line = next(ln for ln in lines if " /run " in ln)
    assert tmp_line.startswith("tmpfs") and "size=8192k" in tmp_line and "mode=1770" in tmp_line
    assert run_line.startswith("tmpfs") and "size=16384k" in run_line
    assert "Read-only file system" in out
    labels = json.loads(daemon.docker("volume", "inspect", vol).stdout)[0]["Labels"]
    assert labels == {"k": names}


def test_volumes_from_read_only(daemon: Daemon, names: str) -> None:
    src = f"{names}src"
    daemon.docker("run", "--name", src, "-v", "/shared", "-v", f"{names}n:/named",
                  "busybox", "sh", "-c", "echo s > /shared/f; echo n > /named/f")
    out = daemon.docker("run", "--rm", "--volumes-from", src, "busybox", "sh", "-c",
                        "cat /shared/f /named/f; echo w > /shared/g && echo wrote").stdout
    assert out == "s\nn\nwrote\n"
    ro = daemon.docker("run", "--rm", "--volumes-from", f"{src}:ro", "busybox", "sh", "-c",
                       "cat /shared/g; touch /shared/h 2>&1; true").stdout
    assert ro.startswith("w\n") and "Read-only file system" in ro
    mounts = json.loads(daemon.docker("inspect", "-f", "{{json .Mounts}}", src).stdout)
    anon = next(m["Name"] for m in mounts if m["Destination"] == "/shared")
    daemon.docker("rm", "-v", src)
    assert anon not in _volumes(daemon) and f"{names}n" in _volumes(daemon)


def test_read_only_root_keeps_volume_and_tmpfs_writable(daemon: Daemon, names: str) -> None:
    out = daemon.docker("run", "--rm", "--read-only", "--mount",
                        f"type=volume,src={names}ro,dst=/data", "--tmpfs", "/run",
                        "busybox", "sh", "-c",
                        "echo a > /data/a && echo b > /run/b && cat /data/a /run/b;"
                        " touch /etc/c 2>&1; true").stdout
    assert out.startswith("a\nb\n") and "Read-only file system" in out


def test_image_volume_is_seeded_from_the_image(daemon: Daemon, names: str,
                                               tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\nRUN mkdir -p /seed && echo from-image > /seed/f\nVOLUME /seed\n")
    image = f"{names}img"
    daemon.docker("build", "-q", "-t", image, str(tmp_path))
    assert json.loads(daemon.docker("image", "inspect", "-f", "{{json .Config.Volumes}}",
                                    image).stdout) == {"/seed": {}}
    daemon.docker("run", "--name", f"{names}s", image, "sh", "-c",
                  "cat /seed/f > /seed/copy")
    mounts = json.loads(daemon.docker("inspect", "-f", "{{json .Mounts}}",
                                      f"{names}s").stdout)
    assert [m["Destination"] for m in mounts] == ["/seed"]
    source = Path(mounts[0]["Source"])
    assert (source / "f").read_text() == "from-image\n"
    assert (source / "copy").read_text() == "from-image\n"
    # a named volume that is not empty is not seeded again
    vol = f"{names}seeded"
    daemon.docker("run", "--rm", "-v", f"{vol}:/seed", image, "sh", "-c",
                  "echo mine > /seed/f")
    assert daemon.docker("run", "--rm", "-v", f"{vol}:/seed", image, "cat",
                         "/seed/f").stdout == "mine\n"
    daemon.docker("rm", "-v", f"{names}s")
    assert not source.exists()


def test_system_df_verbose_and_system_prune_volumes(daemon: Daemon, names: str) -> None:
    vol = f"{names}df"
    daemon.docker("run", "--rm", "-v", f"{vol}:/d", "busybox", "sh", "-c",
                  "dd if=/dev/zero of=/d/blob bs=1024 count=1024 2>/dev/null")
    df = daemon.docker("system", "df", "-v").stdout
    assert "Local Volumes space usage:" in df
    row = next(ln for ln in df.splitlines() if ln.startswith(vol))
    assert row.split()[1] == "0" and row.split()[2] in ("1.049MB", "1.05MB")
    summary = daemon.docker("system", "df", "--format", "{{json .}}").stdout
    kinds = {json.loads(ln)["Type"] for ln in summary.splitlines()}
    assert "Local Volumes" in kinds
    daemon.docker("create", "--name", f"{names}keep", "-v", "/anon", "busybox")
    anon = json.loads(daemon.docker("inspect", "-f", "{{json .Mounts}}",
                                    f"{names}keep").stdout)[0]["Name"]
    daemon.docker("rm", f"{names}keep")  # its anonymous volume is now dangling
    assert anon in _volumes(daemon)
    out = daemon.docker("system", "prune", "--volumes", "-f").stdout
    assert "Total reclaimed space:" in out
    assert anon not in _volumes(daemon)
    assert vol in _volumes(daemon)  # named volumes are kept (API >= 1.42)


def test_docker_py_volumes_and_mounts(client: docker.DockerClient, names: str,
                                      tmp_path: Path) -> None:
    vol = client.volumes.create(name=f"{names}py", labels={"t": names})
    try:
        assert client.volumes.get(vol.name).attrs["Labels"] == {"t": names}
        assert [v.name for v in client.volumes.list(filters={"label": f"t={names}"})] == [
            vol.name]
        (tmp_path / "h").write_text("host\n")
        out = client.containers.run(
            "busybox", ["sh", "-c", "echo py > /v/f; cat /h/h; cat /m/f"],
            volumes={vol.name: {"bind": "/v", "mode": "rw"},
                     str(tmp_path): {"bind": "/h", "mode": "ro"}},
            mounts=[docker.types.Mount("/m", vol.name, type="volume", read_only=True)],
            remove=True, name=f"{names}run")
        assert out == b"host\npy\n"
        anon = client.volumes.create()  # anonymous-style: unnamed, no container
        pruned = client.volumes.prune(filters={"label": f"t={names}", "all": "true"})
        assert pruned["VolumesDeleted"] == [vol.name]
        assert vol.name not in [v.name for v in client.volumes.list()]
        anon.remove()
    finally:
        try:
            client.volumes.get(vol.name).remove(force=True)
        except docker.errors.NotFound:
            pass


COMPOSE_FILE = """\
version: "3.7"
services:
  writer:
    image: busybox
    command: ["sh", "-c", "echo shared > /data/f && sleep 600"]
    volumes: ["data:/data"]
  reader:
    image: busybox
    command: ["sleep", "600"]
    volumes: ["data:/srv:ro"]
volumes:
  data: {}
"""


def test_compose_named_volume_shared_and_down_v(daemon: Daemon, tmp_path: Path) -> None:
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    project = f"bvol{secrets.token_hex(3)}"
    (tmp_path / "docker-compose.yml").write_text(COMPOSE_FILE)
    env = {k: v for k, v in daemon.env().items() if k != "BERTH_HOST"}
    env |= {"DOCKER_HOST": daemon.host, "DOCKER_CONFIG": str(daemon.root / "dockercfg")}

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["docker-compose", "-p", project, *args], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=240,
                              stdin=subprocess.DEVNULL)
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done

    vol = f"{project}_data"
    try:
        compose("up", "-d")
        assert vol in _volumes(daemon)
        labels = json.loads(daemon.docker("volume", "inspect", vol).stdout)[0]["Labels"]
        assert labels["com.docker.compose.project"] == project
        read = ""
        for _ in range(50):
            read = subprocess.run(
                ["docker-compose", "-p", project, "exec", "-T", "reader", "cat", "/srv/f"],
                cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
                stdin=subprocess.DEVNULL).stdout
            if read:
                break
        assert read == "shared\n"
        compose("down", "-v", "-t", "0")
        assert vol not in _volumes(daemon)
    finally:
        subprocess.run(["docker-compose", "-p", project, "down", "-v", "-t", "0"],
                       cwd=tmp_path, env=env, capture_output=True, timeout=240,
                       stdin=subprocess.DEVNULL)
        daemon.docker("volume", "rm", "-f", vol, check=False)
