"""What a container's /etc/hosts and /etc/resolv.conf say, and the in-place rewrite."""

from __future__ import annotations

import os
from pathlib import Path

from berth.engine.networks import etcfiles, legacylinks
from berth.engine.networks.etcfiles import DnsConfig, HostResolv, HostsEntry

HOST = HostResolv.parse("# systemd\nnameserver 127.0.0.53\nnameserver 10.0.0.2\n"
                        "search corp.example\noptions edns0\n")


def test_the_hosts_file_has_localhost_extra_hosts_links_and_its_own_address() -> None:
    link = legacylinks.hosts_entry("db", legacylinks.LinkedContainer(
        "pg", "0123456789ab", "172.18.0.5", (), ()))
    text = etcfiles.hosts([HostsEntry("172.18.0.2", etcfiles.own_names("web", ""))], [link],
                          [HostsEntry("10.1.1.1", ("gw",))])
    assert text.startswith(etcfiles.LOCALHOST)
    assert text.removeprefix(etcfiles.LOCALHOST) == (
        "10.1.1.1\tgw\n172.18.0.5\tdb 0123456789ab pg\n172.18.0.2\tweb\n")


def test_a_domainname_gives_the_fqdn_first() -> None:
    assert etcfiles.own_names("web", "example.org") == ("web.example.org", "web")


def test_resolv_conf_drops_loopback_nameservers_and_keeps_search_and_options() -> None:
    assert etcfiles.resolv_conf(HOST, DnsConfig(), embedded=False) == (
        "nameserver 10.0.0.2\nsearch corp.example\noptions edns0\n")


def test_resolv_conf_falls_back_to_docker_defaults_when_only_loopback_is_left() -> None:
    host = HostResolv.parse("nameserver 127.0.0.53\n")
    assert etcfiles.resolv_conf(host, DnsConfig(), embedded=False) == (
        "nameserver 8.8.8.8\nnameserver 8.8.4.4\n")


def test_dns_flags_replace_the_hosts_settings() -> None:
    dns = DnsConfig(("1.1.1.1",), ("a.example",), ("ndots:2",))
    assert etcfiles.resolv_conf(HOST, dns, embedded=False) == (
        "nameserver 1.1.1.1\nsearch a.example\noptions ndots:2\n")


def test_user_networks_point_at_the_embedded_server_which_forwards_upstream() -> None:
    assert etcfiles.resolv_conf(HOST, DnsConfig(("1.1.1.1",)), embedded=True) == (
        "nameserver 127.0.0.11\nsearch corp.example\noptions edns0 ndots:0\n")
    assert etcfiles.upstreams(HOST, DnsConfig()) == ["10.0.0.2"]
    assert etcfiles.upstreams(HOST, DnsConfig(("1.1.1.1",))) == ["1.1.1.1"]


def test_files_are_written_and_bound_then_rewritten_in_place(tmp_path: Path) -> None:
    binds = etcfiles.write(tmp_path / "c", {"hostname": "box\n", "hosts": "a\n"})
    assert binds == [(str(tmp_path / "c" / "hostname"), "/etc/hostname"),
                     (str(tmp_path / "c" / "hosts"), "/etc/hosts")]
    inode = os.stat(tmp_path / "c" / "hosts").st_ino
    etcfiles.rewrite_in_place(tmp_path / "c" / "hosts", "b\n")
    assert (tmp_path / "c" / "hosts").read_text() == "b\n"
    assert os.stat(tmp_path / "c" / "hosts").st_ino == inode
