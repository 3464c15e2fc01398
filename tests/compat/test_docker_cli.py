"""The real docker CLI (v28) drives berthd: every issue-2 verb docker has."""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path

from tests.compat.daemon import Daemon


def test_run_prints_and_returns_exit_code(daemon: Daemon) -> None:
    out = daemon.docker("run", "--rm", "busybox", "echo", "hello world")
    assert out.stdout == "hello world\n"
    failed = daemon.docker("run", "--rm", "busybox", "sh", "-c", "echo err >&2; exit 3",
                           check=False)
    assert failed.returncode == 3
    assert failed.stderr == "err\n"
    assert daemon.docker("ps", "-aq").stdout.strip() == "", "--rm left a container"


def test_run_detached_with_env_workdir_user_hostname(daemon: Daemon) -> None:
    cid = daemon.docker("run", "-d", "--name", "web", "-e", "A=1", "-w", "/tmp/work",
                        "-u", "1000:1000", "--hostname", "h1", "busybox", "sh", "-c",
                        "echo $A; pwd; id -u; id -g; hostname; sleep 600").stdout.strip()
    try:
        assert len(cid) == 64
        deadline = time.monotonic() + 10
        while daemon.docker("logs", "web").stdout.count("\n") < 5:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert daemon.docker("logs", "web").stdout.split() == ["1", "/tmp/work", "1000",
                                                               "1000", "h1"]
        pid = int(daemon.docker("inspect", "-f", "{{.State.Pid}}", "web").stdout)
        assert Path(f"/proc/{pid}").exists()
        ps = daemon.docker("ps", "--format", "{{.ID}} {{.Names}} {{.Status}}").stdout
        assert ps.startswith(f"{cid[:12]} web Up")
        assert cid[:12] in daemon.docker("ps", "-q").stdout
        daemon.docker("stop", "-t", "1", "web")
        state = json.loads(daemon.docker("inspect", "web").stdout)[0]["State"]
        assert state["Status"] == "exited" and state["ExitCode"] == 137
        assert daemon.docker("ps", "-q").stdout.strip() == ""
        assert cid[:12] in daemon.docker("ps", "-aq").stdout
    finally:
        daemon.docker("rm", "-f", "web", check=False)


def test_pid_one_and_entrypoint(daemon: Daemon) -> None:
    out = daemon.docker("run", "--rm", "--entrypoint", "sh", "busybox", "-c", "echo $$")
    assert out.stdout == "1\n"


def test_kill_start_wait_logs(daemon: Daemon) -> None:
    daemon.docker("run", "-d", "--name", "loop", "busybox", "sh", "-c",
                  "trap 'exit 42' HUP; echo up; while true; do sleep 0.1; done")
    try:
        time.sleep(0.5)
        daemon.docker("kill", "-s", "HUP", "loop")
        assert daemon.docker("wait", "loop").stdout.strip() == "42"
        daemon.docker("start", "loop")
        time.sleep(0.5)
        daemon.docker("kill", "loop")
        assert daemon.docker("wait", "loop").stdout.strip() == "137"
        logs = daemon.docker("logs", "-t", "--tail", "1", "loop").stdout
        assert logs.endswith(" up\n") and logs[:4].isdigit()
        assert daemon.docker("logs", "loop").stdout == "up\nup\n"
    finally:
        daemon.docker("rm", "-f", "loop", check=False)


def test_create_then_start_attached(daemon: Daemon) -> None:
    daemon.docker("create", "--name", "made", "busybox", "echo", "from create")
    try:
        assert daemon.docker("start", "-a", "made").stdout == "from create\n"
    finally:
        daemon.docker("rm", "made")


def test_errors(daemon: Daemon) -> None:
    missing = daemon.docker("run", "--rm", "nosuchimage", check=False)
    assert missing.returncode == 125
    assert "Unable to find image 'nosuchimage:latest' locally" in missing.stderr
    not_found = daemon.docker("run", "--rm", "busybox", "nosuchcmd", check=False)
    assert not_found.returncode == 127
    assert "executable file not found in $PATH" in not_found.stderr
    not_exec = daemon.docker("run", "--rm", "busybox", "/etc/passwd", check=False)
    assert not_exec.returncode == 126
    no_container = daemon.docker("inspect", "nosuchcontainer", check=False)
    assert no_container.returncode == 1
    daemon.docker("run", "-d", "--name", "busy", "busybox", "sleep", "60")
    try:
        conflict = daemon.docker("run", "--name", "busy", "busybox", "true", check=False)
        assert conflict.returncode == 125 and "is already in use" in conflict.stderr
        running = daemon.docker("rm", "busy", check=False)
        assert running.returncode == 1 and "container is running" in running.stderr
        used = daemon.docker("rmi", "busybox", check=False)
        assert used.returncode == 1 and "must force" in used.stderr
    finally:
        daemon.docker("rm", "-f", "busy")
    bad_flag = daemon.docker("run", "--rm", "-m", "1k", "busybox", "true", check=False)
    assert bad_flag.returncode == 125 and "Minimum memory limit" in bad_flag.stderr


def _rootfs_tar(tmp_path: Path) -> Path:
    path = tmp_path / "rootfs.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("bin/busybox")
        data = Path("/bin/busybox").read_bytes()
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
        for applet in ("sh", "echo", "cat"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    return path


def test_import_images_rmi(daemon: Daemon, tmp_path: Path) -> None:
    tar = _rootfs_tar(tmp_path)
    daemon.docker("import", "-c", "ENV PATH=/bin", "-c", 'CMD ["echo", "imported"]', str(tar),
                  "myimg:1")
    try:
        listed = daemon.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
        assert "myimg:1" in listed and "busybox:latest" in listed
        cfg = json.loads(daemon.docker("image", "inspect", "myimg:1").stdout)[0]["Config"]
        assert cfg["Env"] == ["PATH=/bin"] and cfg["Cmd"] == ["echo", "imported"]
        assert daemon.docker("run", "--rm", "myimg:1").stdout == "imported\n"
    finally:
        out = daemon.docker("rmi", "myimg:1").stdout
    assert "Untagged: myimg:1" in out and "Deleted: sha256:" in out


def test_version_and_info(daemon: Daemon) -> None:
    version = daemon.docker("version", "--format", "{{.Server.APIVersion}}").stdout.strip()
    assert version == "1.45"
    info = json.loads(daemon.docker("info", "--format", "{{json .}}").stdout)
    assert info["Images"] >= 1 and info["DefaultRuntime"] == "native"
