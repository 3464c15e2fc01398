"""The global flags before the verb: ``-H`` and docker's TLS flags, and the environment
that stands in for them (``BERTH_HOST``, ``BERTH_TLS``, ``BERTH_TLS_VERIFY``,
``BERTH_CERT_PATH``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.cli.flags import UsageError
from berth.cli.main import _globals, main
from berth.client.tls import TLSOptions


def tls_of(argv: list[str], env: dict[str, str]) -> tuple[str, TLSOptions | None, list[str]]:
    opts, rest = _globals(argv, env)
    return opts.host, opts.tls_options(env), rest


@pytest.fixture
def cert_path(tmp_path: Path) -> Path:
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    return tmp_path


def test_no_tls_unless_asked(cert_path):
    assert tls_of(["-H", "tcp://h:1", "ps"], {"BERTH_CERT_PATH": str(cert_path)}) == (
        "tcp://h:1", None, ["ps"])


def test_tlsverify_takes_the_files_from_the_cert_path(cert_path):
    _, tls, rest = tls_of(["--tlsverify", "-Htcp://h:1", "ps", "-a"],
                          {"BERTH_CERT_PATH": str(cert_path)})
    assert tls == TLSOptions(verify=True, ca_file=str(cert_path / "ca.pem"),
                             cert_file=str(cert_path / "cert.pem"),
                             key_file=str(cert_path / "key.pem"))
    assert rest == ["ps", "-a"]


def test_missing_default_client_pair_is_left_out_but_the_ca_is_not(tmp_path):
    _, tls, _ = tls_of(["--tls"], {"BERTH_CERT_PATH": str(tmp_path)})
    assert tls == TLSOptions(verify=False, ca_file=str(tmp_path / "ca.pem"))


def test_flags_name_the_files(cert_path):
    _, tls, _ = tls_of(["--tlsverify", "--tlscacert=/x/ca", "--tlscert", "/x/c",
                        "--tlskey", "/x/k"], {"BERTH_CERT_PATH": str(cert_path)})
    assert tls == TLSOptions(verify=True, ca_file="/x/ca", cert_file="/x/c", key_file="/x/k")


def test_environment_turns_tls_on(cert_path):
    env = {"BERTH_TLS_VERIFY": "1", "BERTH_CERT_PATH": str(cert_path),
           "BERTH_HOST": "tcp://h:2376"}
    host, tls, _ = tls_of(["ps"], env)
    assert host == "tcp://h:2376" and tls is not None and tls.verify
    _, tls, _ = tls_of(["ps"], {"BERTH_TLS": "1", "HOME": str(cert_path)})
    assert tls is not None and not tls.verify
    assert tls.ca_file == str(cert_path / ".docker" / "ca.pem")


def test_tlsverify_false_still_means_tls_as_in_docker(cert_path):
    _, tls, _ = tls_of(["--tlsverify=false"], {"BERTH_CERT_PATH": str(cert_path)})
    assert tls is not None and not tls.verify


@pytest.mark.parametrize("argv", [["--tlsverify=maybe"], ["--tlscert"], ["--tlz"]])
def test_bad_global_flags_are_usage_errors(argv):
    with pytest.raises(UsageError):
        _globals(argv, {})


def test_bad_host_is_refused_before_the_verb(capsys):
    assert main(["-H", "ssh://box", "ps"], {}) == 125
    assert capsys.readouterr().err == (
        'invalid argument "ssh://box" for "-H, --host" flag: Invalid bind address format: '
        "ssh://box\nSee 'berth --help'.\n")


def test_tls_failure_is_reported_as_docker_does(capsys, tmp_path):
    code = main(["--tlsverify", "--tlscacert", str(tmp_path / "nope.pem"), "-H",
                 "tcp://127.0.0.1:9", "ps"], {})
    assert code == 1
    assert capsys.readouterr().err.startswith(
        "error during connect: tcp://127.0.0.1:9: could not read CA certificate")
