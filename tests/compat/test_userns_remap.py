"""berthd --userns-remap USER (issue 13): container root is the first id of USER's
/etc/subuid range on the host, the layers are idmapped (files stay uid 0 on disk), and
--userns host opts out. A user of the test's own, with its own ranges, removed after."""

from __future__ import annotations

import io
import json
import os
import pwd
import re
import secrets
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.engine.userns import SUBGID, SUBUID, next_free
from berth.runtime import idmap
from tests.compat.daemon import Daemon

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

RUNTIMES = ("native", "runc", "crun")


def _drop_lines(path: Path, name: str) -> None:
    text = path.read_text()
    kept = "".join(line for line in text.splitlines(keepends=True)
                   if not line.startswith(f"{name}:"))
    if kept != text:
        path.write_text(kept)


@pytest.fixture(scope="module")
def remap_user() -> Iterator[tuple[str, int]]:
    """A system user with a free 65536-id range in /etc/subuid and /etc/subgid."""
    name = f"btr{secrets.token_hex(3)}"
    start = max(next_free(SUBUID.read_text()), next_free(SUBGID.read_text()))
    subprocess.run(["useradd", "-r", "-s", "/bin/false", name], check=True)
    try:
        rng = f"{start}-{start + 65535}"
        subprocess.run(["usermod", "-v", rng, "-w", rng, name], check=True)
        yield name, start
    finally:
        subprocess.run(["userdel", name], check=False)
        _drop_lines(SUBUID, name)
        _drop_lines(SUBGID, name)


@pytest.fixture(scope="module", params=RUNTIMES)
def remapped(request: pytest.FixtureRequest, remap_user: tuple[str, int]
             ) -> Iterator[Daemon]:
    """A berthd with the remap whose default runtime (builds' RUN too) is each of ours."""
    d = Daemon(Path(tempfile.mkdtemp(prefix="b", dir="/tmp")))
    d.root.chmod(0o711)  # as /var/lib: container root must reach its rootfs
    try:
        d.start("--userns-remap", remap_user[0], "--runtime", request.param)
        d.berth("image", "bootstrap", "busybox")
        yield d
    finally:
        d.cleanup()


def _uid_line(pid: int) -> list[int]:
    status = Path(f"/proc/{pid}/status").read_text()
    line = re.search(r"^Uid:\s+(.*)$", status, re.M)
    assert line
    return [int(x) for x in line.group(1).split()]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_root_is_the_subuid_start(remapped: Daemon, remap_user: tuple[str, int],
                                  runtime: str) -> None:
    start = remap_user[1]
    out = remapped.docker("run", "--rm", "--runtime", runtime, "busybox", "id").stdout
    assert out.startswith("uid=0(root) gid=0(root)")
    cid = remapped.docker("run", "-d", "--runtime", runtime, "busybox",
                          "sleep", "300").stdout.strip()
    try:
        pid = int(remapped.docker("inspect", "-f", "{{.State.Pid}}", cid).stdout)
        assert _uid_line(pid) == [start] * 4
        maps = Path(f"/proc/{pid}/uid_map").read_text().split()
        assert maps == ["0", str(start), "65536"]
    finally:
        remapped.docker("rm", "-f", cid)
    # the image's files are root's inside, readable; the container writes where root can
    cid = remapped.docker("run", "-d", "--runtime", runtime, "busybox", "sh", "-c",
                          "stat -c '%u %g' /bin/busybox /etc; head -1 /etc/passwd; "
                          "echo hi > /etc/made && echo x >> /etc/group && "
                          "stat -c '%u' /etc/made; sleep 300").stdout.strip()
    try:
        out = ""
        for _ in range(100):
            out = remapped.docker("logs", cid).stdout
            if out.count("\n") == 4:
                break
            time.sleep(0.05)
        assert out == "0 0\n0 0\nroot:x:0:0:root:/root:/bin/sh\n0\n"
        [made] = remapped.data_root.glob("snapshots/overlay/snapshots/*/fs/etc/made")
        upper = made.parent.parent  # the container's upper dir: on disk uid 0, as the image
        assert (made.stat().st_uid, made.stat().st_gid) == (0, 0)
        assert (upper / "etc" / "group").stat().st_uid == 0  # a copy-up keeps the owner
    finally:
        remapped.docker("rm", "-f", cid)


def test_commit_and_cp_give_uid_0(remapped: Daemon) -> None:
    cid = f"btr-{secrets.token_hex(3)}"  # exec is not there yet under the remap
    remapped.docker("run", "--name", cid, "busybox", "sh", "-c",
                    "mkdir /data && echo x > /data/f && chown 1000:1000 /data/f")
    try:
        raw = subprocess.run(["docker", "-H", remapped.host, "cp", f"{cid}:/data", "-"],
                             capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            owners = {m.name: (m.uid, m.gid) for m in tar.getmembers()}
        assert owners == {"data": (0, 0), "data/f": (1000, 1000)}
        image = f"btr-commit-{secrets.token_hex(3)}"
        remapped.docker("commit", cid, image)
        try:
            raw = subprocess.run(["docker", "-H", remapped.host, "save", image],
                                 capture_output=True, check=True).stdout
            layer = _last_layer(raw)
            assert layer["data"] == (0, 0) and layer["data/f"] == (1000, 1000)
            out = remapped.docker("run", "--rm", image, "stat", "-c", "%u", "/data/f").stdout
            assert out == "1000\n"
        finally:
            remapped.docker("rmi", image, check=False)
    finally:
        remapped.docker("rm", "-f", cid)


def _last_layer(saved: bytes) -> dict[str, tuple[int, int]]:
    """Owners in the topmost layer of a ``docker save`` tar."""
    with tarfile.open(fileobj=io.BytesIO(saved)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        blob = tar.extractfile(manifest[0]["Layers"][-1])
        assert blob is not None
        with tarfile.open(fileobj=io.BytesIO(blob.read())) as layer:
            return {m.name.rstrip("/"): (m.uid, m.gid) for m in layer.getmembers()}


def test_named_volume_serves_the_next_container(remapped: Daemon,
                                                remap_user: tuple[str, int]) -> None:
    vol = f"btr-{secrets.token_hex(3)}"
    try:
        remapped.docker("run", "--rm", "-v", f"{vol}:/v", "busybox", "sh", "-c",
                        "echo one > /v/f && mkdir /v/d")
        out = remapped.docker("run", "--rm", "-v", f"{vol}:/v", "busybox", "sh", "-c",
                              "echo two >> /v/f && cat /v/f && stat -c '%u' /v /v/f").stdout
        assert out == "one\ntwo\n0\n0\n"
        path = Path(json.loads(remapped.docker("volume", "inspect", vol).stdout)[0]
                    ["Mountpoint"])
        assert path.stat().st_uid == remap_user[1]  # docker: the volume is the remapped root's
    finally:
        remapped.docker("volume", "rm", "-f", vol, check=False)


def test_bind_of_a_root_owned_dir_is_not_remapped(remapped: Daemon) -> None:
    host = Path(tempfile.mkdtemp(prefix="btr", dir="/tmp"))
    try:
        host.chmod(0o755)
        (host / "f").write_text("host\n")
        out = remapped.docker("run", "--rm", "-v", f"{host}:/h", "busybox", "sh", "-c",
                              "cat /h/f; stat -c '%u' /h/f; touch /h/new", check=False)
        assert out.stdout == "host\n65534\n"  # readable, owned by the overflow uid
        assert "Permission denied" in out.stderr and out.returncode != 0
        assert not (host / "new").exists()
    finally:
        for f in host.iterdir():
            f.unlink()
        host.rmdir()


@pytest.mark.parametrize("runtime", ("native", "runc"))
def test_userns_host_opts_out(remapped: Daemon, runtime: str) -> None:
    cid = remapped.docker("run", "-d", "--userns", "host", "--runtime", runtime, "busybox",
                          "sleep", "300").stdout.strip()
    try:
        pid = int(remapped.docker("inspect", "-f", "{{.State.Pid}}", cid).stdout)
        assert _uid_line(pid) == [0] * 4
        assert Path(f"/proc/{pid}/uid_map").read_text().split() == ["0", "0", "4294967295"]
    finally:
        remapped.docker("rm", "-f", cid)


def test_privileged_needs_userns_host(remapped: Daemon) -> None:
    out = remapped.docker("run", "--rm", "--privileged", "busybox", "true", check=False)
    assert out.returncode == 125
    assert ("privileged mode is incompatible with user namespaces.  You must run the "
            "container in the host namespace when running privileged mode") in out.stderr
    ok = remapped.docker("run", "--rm", "--privileged", "--userns", "host", "busybox", "id")
    assert ok.stdout.startswith("uid=0(root)")


def test_info_shows_userns(remapped: Daemon) -> None:
    info = json.loads(remapped.docker("info", "--format", "{{json .}}").stdout)
    assert "name=userns" in info["SecurityOptions"]


def test_build_run_layer_is_uid_0(remapped: Daemon) -> None:
    tag = f"btr-build-{secrets.token_hex(3)}"
    context = Path(tempfile.mkdtemp(prefix="btrctx", dir="/tmp"))
    try:
        (context / "Dockerfile").write_text(
            "FROM busybox\nRUN mkdir /made && echo x > /made/f && id -u > /made/who && "
            "touch /made/u && chown 1000:1000 /made/u\n")
        remapped.docker("build", "-q", "-t", tag, str(context), timeout=120)
        raw = subprocess.run(["docker", "-H", remapped.host, "save", tag],
                             capture_output=True, check=True).stdout
        layer = _last_layer(raw)
        assert layer["made"] == (0, 0) and layer["made/f"] == (0, 0)
        assert layer["made/u"] == (1000, 1000)
        out = remapped.docker("run", "--rm", tag, "cat", "/made/who").stdout
        assert out == "0\n"
    finally:
        remapped.docker("rmi", "-f", tag, check=False)
        (context / "Dockerfile").unlink()
        context.rmdir()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_exec_joins_the_remapped_namespaces(remapped: Daemon, remap_user: tuple[str, int],
                                             runtime: str) -> None:
    cid = remapped.docker("run", "-d", "--runtime", runtime, "busybox",
                          "sleep", "300").stdout.strip()
    try:
        out = remapped.docker("exec", cid, "sh", "-c",
                              "id -u; cat /proc/self/uid_map; ip -o link show lo | "
                              "grep -c LOOPBACK; ls /sys/class/net | sort").stdout.split()
        assert out[:4] == ["0", "0", str(remap_user[1]), "65536"]
        assert out[4] == "1" and "eth0" in out[5:]  # its own netns; sysfs of it
    finally:
        remapped.docker("rm", "-f", cid)


def test_etc_files_are_the_remapped_roots(remapped: Daemon) -> None:
    out = remapped.docker("run", "--rm", "busybox", "sh", "-c",
                          "stat -c '%u' /etc/hosts /etc/resolv.conf /etc/hostname; "
                          "echo '10.1.2.3 extra' >> /etc/hosts && grep -c extra /etc/hosts"
                          ).stdout
    assert out == "0\n0\n0\n1\n"


def test_image_volume_seeded_with_remapped_ids(remapped: Daemon,
                                               remap_user: tuple[str, int]) -> None:
    tag = f"btr-vol-{secrets.token_hex(3)}"
    context = Path(tempfile.mkdtemp(prefix="btrctx", dir="/tmp"))
    name = f"btr-{secrets.token_hex(3)}"
    try:
        (context / "Dockerfile").write_text(
            "FROM busybox\nRUN mkdir /vol && echo x > /vol/f && chown 1000:1000 /vol/f\n"
            "VOLUME /vol\n")
        remapped.docker("build", "-q", "-t", tag, str(context), timeout=120)
        out = remapped.docker("run", "--name", name, tag, "sh", "-c",
                              "stat -c '%u %g' /vol /vol/f; echo y >> /vol/f && "
                              "echo y > /vol/new && cat /vol/f").stdout
        assert out == "0 0\n1000 1000\nx\ny\n"
        source = Path(json.loads(remapped.docker("inspect", name).stdout)[0]
                      ["Mounts"][0]["Source"])
        start = remap_user[1]
        assert (source / "f").stat().st_uid == start + 1000
        assert (source / "new").stat().st_uid == start
    finally:
        remapped.docker("rm", "-v", "-f", name, check=False)
        remapped.docker("rmi", "-f", tag, check=False)
        (context / "Dockerfile").unlink()
        context.rmdir()


def test_default_makes_berthremap_and_its_ranges() -> None:
    """``--userns-remap default``: berthremap is made with a free range (docker's
    dockremap); removed with its /etc/subuid and /etc/subgid lines afterwards."""
    try:
        pwd.getpwnam("berthremap")
        pytest.skip("berthremap exists on this host: not ours to remove")
    except KeyError:
        pass
    start = max(next_free(SUBUID.read_text()), next_free(SUBGID.read_text()))
    d = Daemon(Path(tempfile.mkdtemp(prefix="b", dir="/tmp")))
    d.root.chmod(0o711)
    try:
        d.start("--userns-remap", "default")
        assert f"berthremap:{start}:65536\n" in SUBUID.read_text()
        assert f"berthremap:{start}:65536\n" in SUBGID.read_text()
        d.berth("image", "bootstrap", "busybox")
        cid = d.docker("run", "-d", "busybox", "sleep", "300").stdout.strip()
        pid = int(d.docker("inspect", "-f", "{{.State.Pid}}", cid).stdout)
        assert _uid_line(pid) == [start] * 4
    finally:
        d.cleanup()
        subprocess.run(["userdel", "berthremap"], check=False)
        _drop_lines(SUBUID, "berthremap")
        _drop_lines(SUBGID, "berthremap")


def test_restart_makes_a_fresh_user_namespace(remapped: Daemon,
                                              remap_user: tuple[str, int]) -> None:
    cid = remapped.docker("run", "-d", "busybox", "sleep", "300").stdout.strip()
    try:
        held = remapped.exec_root / "userns" / cid
        assert held.exists()
        remapped.docker("stop", "-t", "0", cid)
        assert not held.exists()  # released with the run
        remapped.docker("start", cid)
        out = remapped.docker("exec", cid, "cat", "/proc/self/uid_map").stdout.split()
        assert out == ["0", str(remap_user[1]), "65536"]
    finally:
        remapped.docker("rm", "-f", cid)
    assert not (remapped.exec_root / "userns" / cid).exists()


def test_restart_of_berthd_sweeps_stale_user_namespaces(
        remapped: Daemon, remap_user: tuple[str, int]) -> None:
    cid = remapped.docker("run", "-d", "busybox", "sleep", "300").stdout.strip()
    stale = remapped.exec_root / "userns" / ("f" * 64)  # a container gone while down
    try:
        idmap.hold_userns(stale, b"0 %d 1\n" % remap_user[1], b"0 %d 1\n" % remap_user[1])
        runtime = remapped.docker("info", "--format", "{{.DefaultRuntime}}").stdout.strip()
        remapped.stop()
        remapped.start("--userns-remap", remap_user[0], "--runtime", runtime)
        assert not stale.exists()
        assert (remapped.exec_root / "userns" / cid).exists()  # still running: kept
        out = remapped.docker("exec", cid, "id", "-u").stdout
        assert out == "0\n"
    finally:
        idmap.release_userns(stale)
        remapped.docker("rm", "-f", cid)
