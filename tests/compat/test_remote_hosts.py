"""``-H tcp://`` for real: berthd listening on loopback TCP, plain and with ``--tlsverify``
(a throwaway CA, server and client certificates), driven by the berth CLI (h11 over TCP,
TLS via ``client/tls.py``) and by the docker CLI: ``ps``, a plain ``run``, and ``run -i``
whose stdin ends before the output comes (the hijacked stream's half-close under TLS).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat.daemon import BERTH, Daemon
from tests.tlscerts import Certs, make_certs

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Remote:
    """A berthd with a tcp:// host, and the CLI flags that reach it."""

    def __init__(self, daemon: Daemon, host: str, tls_flags: list[str], certs: Certs | None):
        self.daemon = daemon
        self.host = host
        self.tls_flags = tls_flags
        self.certs = certs

    def run(self, cli: str, *args: str, input: str | None = None, env: dict[str, str] | None
            = None, flags: list[str] | None = None) -> subprocess.CompletedProcess[str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("BERTH_", "DOCKER_"))}
        base["DOCKER_CONFIG"] = str(self.daemon.root / "dockercfg")
        argv = [cli, "-H", self.host, *(self.tls_flags if flags is None else flags), *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, input=input,
                              env={**base, **(env or {})},
                              stdin=subprocess.DEVNULL if input is None else None)


@pytest.fixture(scope="module", params=["tcp", "tls"])
def remote(request: pytest.FixtureRequest) -> Iterator[Remote]:
    d = Daemon(Path(tempfile.mkdtemp(prefix="b", dir="/tmp")))
    port = free_port()
    certs, daemon_flags, cli_flags = None, [], []
    if request.param == "tls":
        certs = make_certs(d.root / "tls")
        daemon_flags = ["--tlsverify", "--tlscacert", str(certs.ca), "--tlscert",
                        str(certs.cert("server")), "--tlskey", str(certs.key("server"))]
        cli_flags = ["--tlsverify", "--tlscacert", str(certs.ca), "--tlscert",
                     str(certs.cert("client")), "--tlskey", str(certs.key("client"))]
    try:
        d.start("-H", f"tcp://127.0.0.1:{port}", *daemon_flags)
        d.berth("image", "bootstrap", "busybox")
        yield Remote(d, f"tcp://127.0.0.1:{port}", cli_flags, certs)
    finally:
        d.cleanup()


@pytest.mark.parametrize("cli", [BERTH, "docker"])
def test_ps(remote: Remote, cli: str) -> None:
    done = remote.run(cli, "ps")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("CONTAINER ID")


@pytest.mark.parametrize("cli", [BERTH, "docker"])
def test_run_rm_echo(remote: Remote, cli: str) -> None:
    done = remote.run(cli, "run", "--rm", "busybox", "echo", "hi")
    assert (done.returncode, done.stdout) == (0, "hi\n"), done.stderr


@pytest.mark.parametrize("cli", [BERTH, "docker"])
def test_run_interactive_stdin_eof_then_output(remote: Remote, cli: str) -> None:
    """stdin ends (a half-close, under TLS too) before ``cat`` answers; the exit status
    comes after the output."""
    done = remote.run(cli, "run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done; exit 3",
                      input="line one\nline two\n")
    assert (done.returncode, done.stdout) == (3, "line one\nline two\ndone\n"), done.stderr


def test_exec_interactive(remote: Remote) -> None:
    name = f"remote-{os.getpid()}"
    assert remote.run(BERTH, "run", "-d", "--name", name, "busybox", "sleep", "60"
                      ).returncode == 0
    try:
        done = remote.run(BERTH, "exec", "-i", name, "wc", "-c", input="12345")
        assert (done.returncode, done.stdout.strip()) == (0, "5"), done.stderr
    finally:
        remote.run(BERTH, "rm", "-f", name)


def test_tls_settings_from_the_environment(remote: Remote, tmp_path: Path) -> None:
    """BERTH_TLS_VERIFY and BERTH_CERT_PATH (ca.pem, cert.pem, key.pem) as docker's
    DOCKER_TLS_VERIFY and DOCKER_CERT_PATH."""
    if remote.certs is None:
        pytest.skip("plain TCP")
    for src, name in ((remote.certs.ca, "ca.pem"), (remote.certs.cert("client"), "cert.pem"),
                      (remote.certs.key("client"), "key.pem")):
        shutil.copyfile(src, tmp_path / name)
    done = remote.run(BERTH, "ps", flags=[],
                      env={"BERTH_TLS_VERIFY": "1", "BERTH_CERT_PATH": str(tmp_path)})
    assert done.returncode == 0, done.stderr


def test_tls_refusals(remote: Remote, tmp_path: Path) -> None:
    if remote.certs is None:
        pytest.skip("plain TCP")
    certs = remote.certs
    no_client_cert = remote.run(BERTH, "ps", flags=["--tlsverify", "--tlscacert",
                                                    str(certs.ca)])
    other = make_certs(tmp_path / "other")  # a CA that did not sign berthd's certificate
    untrusted = remote.run(BERTH, "ps", flags=[
        "--tlsverify", "--tlscacert", str(other.ca), "--tlscert", str(certs.cert("client")),
        "--tlskey", str(certs.key("client"))])
    plain = remote.run(BERTH, "ps", flags=[])
    for done in (no_client_cert, untrusted, plain):
        assert done.returncode == 1, done.stdout
    assert "error during connect" in untrusted.stderr
    assert "tls: failed to verify certificate" in untrusted.stderr
    assert "tls: tlsv13 alert certificate required" in no_client_cert.stderr
    # --tls without --tlsverify encrypts without checking the daemon: accepted
    assert remote.run(BERTH, "ps", flags=["--tls", "--tlscert", str(certs.cert("client")),
                                          "--tlskey", str(certs.key("client"))]
                      ).returncode == 0
