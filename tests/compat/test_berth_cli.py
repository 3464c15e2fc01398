"""The berth CLI against berthd, compared with the real docker CLI on the same daemon:
for the same request both must print the same thing and exit with the same code."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.compat.daemon import Daemon


def both(d: Daemon, *args: str) -> tuple[str, str]:
    b, k = d.berth(*args, check=False), d.docker(*args, check=False)
    assert b.returncode == k.returncode, (args, b.stderr, k.stderr)
    return b.stdout, k.stdout


def test_hello_world_and_exit_codes(daemon: Daemon) -> None:
    assert daemon.berth("run", "--rm", "busybox", "echo", "hello world").stdout == "hello world\n"
    for script, code in (("exit 0", 0), ("exit 3", 3), ("exit 255", 255)):
        assert daemon.berth("run", "--rm", "busybox", "sh", "-c", script,
                            check=False).returncode == code
    assert daemon.berth("run", "--rm", "--entrypoint", "sh", "busybox", "-c",
                        "echo $$").stdout == "1\n"


@pytest.mark.parametrize("fmt", [
    "table {{.ID}}\t{{.Names}}", "{{.Names}} {{.Image}} {{.Command}} {{.State}}",
    "{{json .Labels}}", '{{.Label "tier"}}'])
def test_ps_formats_match_docker(daemon: Daemon, fmt: str) -> None:
    daemon.berth("run", "-d", "--name", "fmt1", "-l", "tier=web", "busybox", "sleep", "60")
    try:
        berth, docker = both(daemon, "ps", "--format", fmt)
        assert berth == docker
        assert "fmt1" in berth or "web" in berth, berth
        quiet_berth, quiet_docker = both(daemon, "ps", "-q")
        assert quiet_berth == quiet_docker and len(quiet_berth.split()) == 1
    finally:
        daemon.berth("rm", "-f", "fmt1")


# Listings that show CreatedSince name busybox, whose created time is years old: images the
# session's other tests made seconds ago could tick over between the two CLI calls.
@pytest.mark.parametrize("args", [
    ("images", "busybox"), ("images", "-q"), ("images", "--format", "{{json .}}", "busybox"),
    ("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"),
    ("inspect", "-f", "{{.Config.Cmd}} {{.Config.Env}} {{.Architecture}}", "busybox"),
    ("image", "inspect", "-f", "{{json .RootFS}}", "busybox")])
def test_image_listings_match_docker(daemon: Daemon, args: tuple[str, ...]) -> None:
    berth, docker = both(daemon, *args)
    assert berth == docker and berth


def test_inspect_logs_and_lifecycle_match_docker(daemon: Daemon) -> None:
    daemon.berth("run", "-d", "--name", "life", "-e", "A=1", "-w", "/srv", "-u", "1000",
                 "--hostname", "h1", "busybox", "sh", "-c",
                 "echo out; echo err >&2; trap 'exit 5' TERM; while true; do sleep 0.1; done")
    try:
        for fmt in ("{{.State.Running}} {{.Config.Hostname}} {{.Config.User}}",
                    "{{.Config.WorkingDir}} {{index .Config.Env 1}}", "{{.Name}} {{.Path}}",
                    "{{join .Args \",\"}}", "{{upper .State.Status}} {{.HostConfig.Runtime}}"):
            berth, docker = both(daemon, "inspect", "-f", fmt, "life")
            assert berth == docker, fmt
        berth, docker = both(daemon, "logs", "life")
        assert berth == docker == "out\n"
        b = daemon.berth("logs", "--tail", "1", "-t", "life")
        assert b.stderr.endswith(" err\n") and b.stderr[:2] == "20"
        assert daemon.berth("stop", "life").stdout == "life\n"
        assert both(daemon, "wait", "life") == ("5\n", "5\n")
        assert daemon.berth("start", "life").stdout == "life\n"
        assert daemon.berth("kill", "-s", "KILL", "life").stdout == "life\n"
        assert daemon.berth("wait", "life").stdout == "137\n"
    finally:
        daemon.berth("rm", "-f", "life")


def test_create_start_attach(daemon: Daemon) -> None:
    cid = daemon.berth("create", "--name", "made2", "busybox", "echo", "made").stdout.strip()
    try:
        assert len(cid) == 64
        assert daemon.berth("start", "-a", "made2").stdout == "made\n"
        assert daemon.berth("ps", "-a", "--filter", "name=made2", "--format",
                            "{{.Status}}").stdout.startswith("Exited (0)")
    finally:
        daemon.berth("rm", "made2")


def test_errors_and_exit_codes_match_docker(daemon: Daemon) -> None:
    for args, code in ((("run", "--rm", "nosuch"), 125),
                       (("run", "--rm", "busybox", "nosuchcmd"), 127),
                       (("run", "--rm", "busybox", "/etc"), 126),
                       (("run", "--rm", "-m", "abc", "busybox", "true"), 125),
                       (("run", "--rm", "--runtime", "nope", "busybox", "true"), 125),
                       (("run", "--rm", "-u", "nobody2", "busybox", "true"), 125),
                       (("logs", "nosuchcontainer"), 1), (("rm", "nosuchcontainer"), 1),
                       (("stop", "nosuchcontainer"), 1), (("rmi", "nosuch:1"), 1)):
        b = daemon.berth(*args, check=False)
        k = daemon.docker(*args, check=False)
        assert (b.returncode, k.returncode) == (code, code), (args, b.stderr, k.stderr)
    missing = daemon.berth("run", "--rm", "nosuch", check=False).stderr
    assert "Unable to find image 'nosuch:latest' locally" in missing
    assert "No such container: nosuchcontainer" in daemon.berth(
        "rm", "nosuchcontainer", check=False).stderr
    bad = daemon.berth("run", "--rm", "-m", "abc", "busybox", "true", check=False).stderr
    assert "invalid argument \"abc\" for \"-m, --memory\" flag" in bad


def test_import_with_changes_and_rmi(daemon: Daemon, tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tar:
        data = Path("/bin/busybox").read_bytes()
        info = tarfile.TarInfo("bin/busybox")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("bin/sh")
        link.type, link.linkname = tarfile.SYMTYPE, "busybox"
        tar.addfile(link)
    daemon.berth("import", str(rootfs), "myimg:1", "-c", "ENV PATH=/bin", "-c", 'CMD ["sh"]')
    try:
        cfg = json.loads(daemon.berth("image", "inspect", "myimg:1").stdout)[0]["Config"]
        assert cfg["Env"] == ["PATH=/bin"] and cfg["Cmd"] == ["sh"]
        out = daemon.berth("run", "--rm", "myimg:1", "-c", "echo $PATH", check=False)
        assert daemon.berth("run", "--rm", "myimg:1", "sh", "-c", "echo $PATH").stdout == \
            "/bin\n", out.stderr
        bad = daemon.berth("import", str(rootfs), "x:1", "-c", "FROM busybox", check=False)
        assert bad.returncode == 1 and "FROM" in bad.stderr
    finally:
        out = daemon.berth("rmi", "myimg:1").stdout
    assert out.startswith("Untagged: myimg:1\nDeleted: sha256:")


def test_hostile_import_writes_nothing_outside(daemon: Daemon, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    hostile = tmp_path / "hostile.tar"
    with tarfile.open(hostile, "w") as tar:
        for name, kind, target in (("../../../../../../" + str(victim)[1:], tarfile.REGTYPE, ""),
                                   ("escape", tarfile.SYMTYPE, str(tmp_path)),
                                   ("escape/victim", tarfile.REGTYPE, ""),
                                   ("dev/evil", tarfile.CHRTYPE, "")):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            if kind == tarfile.CHRTYPE:
                info.devmajor, info.devminor = 1, 3
            info.size = 4 if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(b"pwnd") if kind == tarfile.REGTYPE else None)
    result = daemon.berth("import", str(hostile), "hostile:1", check=False)
    assert not victim.exists(), "an import wrote outside its layer"
    if result.returncode == 0:
        daemon.berth("rmi", "hostile:1")


def test_version_and_info(daemon: Daemon) -> None:
    version = daemon.berth("version").stdout
    assert "API version:" in version and "1.45" in version
    info = daemon.berth("info").stdout
    assert " Default Runtime: native\n" in info and " Runtimes: crun native runc\n" in info
    assert f" Berth Root Dir: {daemon.data_root}\n" in info
