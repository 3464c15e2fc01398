"""``berth image bootstrap debian:bookworm``: a real Debian made with debootstrap from the
host's Debian mirror, run with bash, dpkg and apt inside; and the clear errors before it.

One bootstrap for the module (about a minute here; debootstrap downloads ~90 packages).
The error cases never reach debootstrap's install, or fail it within seconds against a
mirror on 127.0.0.1."""

from __future__ import annotations

import http.server
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat.daemon import Daemon, free_port, inspect

pytestmark = [pytest.mark.compat, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def debian(daemon: Daemon) -> Iterator[str]:
    started = time.monotonic()
    out = daemon.berth("image", "bootstrap", "debian:bookworm", timeout=840).stdout
    print(f"bootstrap debian:bookworm took {time.monotonic() - started:.0f} s")
    try:
        yield out
    finally:
        daemon.berth("rmi", "debian:bookworm", check=False)


def run(d: Daemon, *cmd: str) -> str:
    return d.berth("run", "--rm", "debian:bookworm", *cmd).stdout


def test_progress_is_debootstraps_and_the_image_is_tagged(daemon: Daemon, debian: str) -> None:
    lines = debian.splitlines()
    assert lines[0].startswith("Bootstrapping Debian bookworm from http")
    assert any(re.fullmatch(r"Retrieving bash \S+", line) for line in lines)
    assert "Base system installed successfully." in lines
    assert re.fullmatch(r"sha256:[0-9a-f]{64}: Bootstrapped debian:bookworm", lines[-1])
    image = inspect(daemon, "debian:bookworm")
    assert image["Config"] == {
        "Cmd": ["bash"],
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}
    assert len(image["RootFS"]["Layers"]) == 1  # type: ignore[index]
    assert image["Size"] > 50_000_000  # type: ignore[operator]


def test_bash_dpkg_and_apt_run(daemon: Daemon, debian: str) -> None:
    version = run(daemon, "bash", "-c", "echo $BASH_VERSION")
    assert re.fullmatch(r"5\.2\.\d+\(1\)-release\n", version)
    assert re.fullmatch(r"12\.\d+\n", run(daemon, "cat", "/etc/debian_version"))
    packages = int(run(daemon, "sh", "-c", "dpkg -l | grep -c '^ii'"))
    assert 60 < packages < 200  # minbase: Essential + Priority required + apt
    listed = int(run(daemon, "sh", "-c", "dpkg -l | wc -l"))
    assert listed == packages + 5  # dpkg's 5 header lines
    assert run(daemon, "apt-get", "--version").startswith("apt 2.6.")
    status = run(daemon, "dpkg-query", "-W", "-f", "${Status}", "bash")
    assert status == "install ok installed"


def test_trimmed_like_the_official_image(daemon: Daemon, debian: str) -> None:
    out = run(daemon, "sh", "-c",
              "ls -A /var/lib/apt/lists /var/cache/apt/archives; echo --; "
              "ls /var/log; echo --; ls /etc/apt/apt.conf.d; echo --; cat /etc/hostname")
    lists, logs, conf, hostname = out.split("--\n")
    assert lists.split() == ["/var/cache/apt/archives:", "partial",
                             "/var/lib/apt/lists:", "partial"]
    assert "dpkg.log" not in logs and "bootstrap.log" not in logs
    assert "docker-clean" in conf.split()
    assert hostname.strip() not in ("", socket.gethostname())  # the runtime's, not the host's
    created = inspect(daemon, "debian:bookworm")["Created"]
    epoch = int(run(daemon, "date", "-d", str(created), "+%s"))
    newer = run(daemon, "find", "/usr", "/var/lib/dpkg", "/etc/passwd", "-newermt", f"@{epoch}")
    assert newer == ""  # every mtime clamped to the image's created time
    shadow = run(daemon, "cat", "/etc/shadow").splitlines()
    assert shadow[0].split(":")[2] == str(epoch // 86400)


def test_unknown_suite_and_bad_mirror(daemon: Daemon) -> None:
    bad = daemon.berth("image", "bootstrap", "debian:nosuch", check=False)
    assert bad.returncode != 0
    assert "unknown Debian suite 'nosuch'" in bad.stderr
    bad = daemon.berth("image", "bootstrap", "--mirror", "ftp://x/debian", "debian:bookworm",
                       check=False)
    assert "invalid Debian mirror 'ftp://x/debian'" in bad.stderr
    port = free_port()
    bad = daemon.berth("image", "bootstrap", "--mirror", f"http://127.0.0.1:{port}/debian",
                       "debian:bookworm", check=False)
    assert bad.returncode != 0
    assert "cannot reach the Debian mirror" in bad.stderr
    assert not list((daemon.data_root / "bootstrap").glob("*"))


class _Mirror(http.server.SimpleHTTPRequestHandler):
    """A "mirror" whose only file is a Release that is not signed: the checks pass and
    debootstrap itself fails."""

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def broken_mirror(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "dists/bookworm").mkdir(parents=True)
    (tmp_path / "dists/bookworm/InRelease").write_text("not a release file\n")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: _Mirror(*a, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_mirror_without_suite_and_failed_debootstrap(daemon: Daemon,
                                                    broken_mirror: str) -> None:
    bad = daemon.berth("image", "bootstrap", "--mirror", broken_mirror, "debian:bullseye",
                       check=False)
    assert f"the Debian mirror {broken_mirror} has no suite 'bullseye'" in bad.stderr
    bad = daemon.berth("image", "bootstrap", "--mirror", broken_mirror, "debian:bookworm",
                       check=False, timeout=120)
    assert bad.returncode != 0
    assert f"debootstrap bookworm from {broken_mirror} failed" in bad.stderr
    assert bad.stdout.startswith("Bootstrapping Debian bookworm")  # it streamed, then failed
    assert not list((daemon.data_root / "bootstrap").glob("*"))  # its tree is gone
