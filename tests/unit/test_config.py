"""The keys of daemon.toml and their flags: registries, hosts, networking."""

from __future__ import annotations

import pytest

from berth.config import load
from berth.errors import InvalidArgument


def test_registry_keys_from_toml_and_flags(tmp_path):
    toml = tmp_path / "daemon.toml"
    toml.write_text(
        'default_registry = "Registry.Example:5000"\n'
        'insecure_registries = ["10.1.2.3/16", "plain.example:5000"]\n'
        "[registry_mirrors]\n"
        '"quay.io" = ["https://quay-mirror.example/"]\n'
        '"index.docker.io" = ["http://127.0.0.1:5001"]\n')
    config = load(["--config-file", str(toml), "--registry-mirror", "http://127.0.0.1:5002",
                   "--insecure-registry", "other:80"])
    assert config.registry_mirrors == {
        "quay.io": ("https://quay-mirror.example",),
        "docker.io": ("http://127.0.0.1:5002", "http://127.0.0.1:5001"),
    }
    assert config.insecure_registries == ("10.1.0.0/16", "plain.example:5000", "other:80")
    assert config.default_registry == "registry.example:5000"
    assert load(["--default-registry", "local:5000"]).default_registry == "local:5000"


def test_registry_defaults():
    config = load([])
    assert (config.registry_mirrors, config.insecure_registries, config.default_registry) \
        == ({}, (), "docker.io")


@pytest.mark.parametrize(("toml", "message"), [
    ('registry_mirrors = ["http://x"]', "must be a table"),
    ('[registry_mirrors]\n"quay.io" = ["ftp://x"]', "must start with http"),
    ('[registry_mirrors]\n"quay.io" = ["http://x/some/path"]', "scheme://host"),
    ('insecure_registries = "10.0.0.0/8"', "must be a list"),
    ('insecure_registries = ["10.0.0.0/99"]', "insecure registry"),
])
def test_bad_registry_config_is_refused(tmp_path, toml, message):
    path = tmp_path / "daemon.toml"
    path.write_text(toml + "\n")
    with pytest.raises(InvalidArgument, match=message):
        load(["--config-file", str(path)])


def test_hosts_unix_and_tcp_with_tls():
    config = load(["-H", "unix:///tmp/b.sock", "-H", "tcp://127.0.0.1:2376", "-H",
                   "tcp://[::1]:2377", "--tlsverify", "--tlscacert", "ca.pem", "--tlscert",
                   "server.pem", "--tlskey", "server-key.pem"])
    assert config.socket_path.as_posix() == "/tmp/b.sock"
    assert config.tcp_addresses == (("127.0.0.1", 2376), ("::1", 2377))
    assert config.serves_tls and config.tlsverify
    only_tcp = load(["-H", "tcp://:2375"])  # the unix socket is always served
    assert only_tcp.socket_path.as_posix() == "/run/berth/berth.sock"
    assert only_tcp.tcp_addresses == (("127.0.0.1", 2375),) and not only_tcp.serves_tls


@pytest.mark.parametrize(("argv", "message"), [
    (["-H", "ssh://box"], "unsupported host"),
    (["-H", "tcp://127.0.0.1"], "expected tcp://HOST:PORT"),
    (["-H", "unix:///a.sock", "-H", "unix:///b.sock"], "one unix:// socket"),
    (["--tls", "-H", "tcp://127.0.0.1:2376"], "need --tlscert and --tlskey"),
    (["--tlsverify", "--tlscert", "c", "--tlskey", "k"], "needs --tlscacert"),
])
def test_bad_hosts_and_tls_flags_are_refused(argv, message):
    with pytest.raises(InvalidArgument, match=message):
        load(argv)


def test_dns_servers_from_toml_or_flags(tmp_path):
    toml = tmp_path / "daemon.toml"
    toml.write_text('dns = ["127.0.0.1", "::1"]\n')
    assert load(["--config-file", str(toml)]).dns == ("127.0.0.1", "::1")
    assert load(["--dns", "10.0.0.53", "--dns", "10.0.0.54"]).dns == ("10.0.0.53", "10.0.0.54")
    assert load([]).dns == ()
    with pytest.raises(InvalidArgument, match="invalid network setting"):
        load(["--dns", "not-an-ip"])


def test_proc_view_from_toml_or_flags(tmp_path):
    toml = tmp_path / "daemon.toml"
    toml.write_text("proc_view = false\n")
    assert load([]).proc_view is True
    assert load(["--config-file", str(toml)]).proc_view is False
    assert load(["--config-file", str(toml), "--proc-view"]).proc_view is True
    assert load(["--no-proc-view"]).proc_view is False
    toml.write_text('proc_view = "no"\n')
    with pytest.raises(InvalidArgument, match="proc_view must be true or false"):
        load(["--config-file", str(toml)])
