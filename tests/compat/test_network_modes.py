"""``--network host|none|container:<id>`` and the default bridge, and the files berth
manages: /etc/hosts (own address, ``--add-host``, ``host-gateway``), /etc/resolv.conf
(the host's resolvers minus loopback ones, or ``--dns``/``--dns-search``), /etc/hostname.

No traffic leaves for 1.2.3.4: the files are only read."""

from __future__ import annotations

from pathlib import Path

from tests.compat.daemon import Daemon
from tests.compat.netserve import container_net, httpd_argv, interfaces, ip_of, name, wget_in


def test_default_bridge_gives_each_container_its_own_address(
        daemon: Daemon, containers: list[str]) -> None:
    d = daemon
    one, two = name("one"), name("two")
    containers += [one, two]
    d.docker("run", "-d", "--name", one, "busybox", *httpd_argv("from-one", 8080))
    d.docker("run", "-d", "--name", two, "busybox", "sleep", "600")
    a, b = ip_of(d, one), ip_of(d, two)
    assert a != b
    assert wget_in(d, ["exec", two], f"http://{a}:8080/") == "from-one"
    cid = d.docker("inspect", "-f", "{{.Id}}", one).stdout.strip()
    hosts = d.docker("exec", one, "cat", "/etc/hosts").stdout.splitlines()
    assert f"{a}\t{cid[:12]}" in hosts and any(h.startswith("127.0.0.1") for h in hosts)
    assert d.docker("exec", one, "cat", "/etc/hostname").stdout.strip() == cid[:12]
    assert d.docker("exec", one, "hostname").stdout.strip() == cid[:12]


def test_resolv_conf_is_the_hosts_minus_loopback(daemon: Daemon) -> None:
    host = [ln.split()[1] for ln in Path("/etc/resolv.conf").read_text().splitlines()
            if ln.startswith("nameserver")]
    seen = [ln.split()[1] for ln in daemon.docker(
        "run", "--rm", "busybox", "cat", "/etc/resolv.conf").stdout.splitlines()
        if ln.startswith("nameserver")]
    expected = [ns for ns in host if not ns.startswith("127.") and ns != "::1"]
    if expected:
        assert seen == expected
    else:  # docker's fallback when only loopback resolvers are configured
        assert seen and not any(ns.startswith("127.") for ns in seen)


def test_dns_options_and_extra_hosts(daemon: Daemon) -> None:
    d = daemon
    argv = ["run", "--rm", "--dns", "1.2.3.4", "--dns-search", "x.example",
            "--dns-option", "ndots:2", "--add-host", "name.test:10.9.8.7",
            "--add-host", "h:host-gateway", "busybox"]
    resolv = d.docker(*argv, "cat", "/etc/resolv.conf").stdout.splitlines()
    assert "nameserver 1.2.3.4" in resolv and "search x.example" in resolv
    assert "options ndots:2" in resolv
    assert not any(ln.startswith("nameserver") and "1.2.3.4" not in ln for ln in resolv)
    hosts = d.docker(*argv, "cat", "/etc/hosts").stdout.splitlines()
    assert "10.9.8.7\tname.test" in hosts, hosts
    gateway = d.docker("network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}",
                       "bridge").stdout.strip()
    assert f"{gateway}\th" in hosts, (gateway, hosts)


def test_network_host_sees_the_hosts_interfaces(daemon: Daemon) -> None:
    d = daemon
    inside = interfaces(d.docker("run", "--rm", "--network", "host", "busybox",
                                  "ip", "-o", "link").stdout)
    assert d.bridge in inside and "lo" in inside
    assert {p.name for p in Path("/sys/class/net").iterdir()} >= inside - {"lo"}
    settings = d.docker("run", "--rm", "--network", "host", "busybox", "hostname").stdout
    assert settings.strip() == Path("/proc/sys/kernel/hostname").read_text().strip()


def test_network_host_container_has_no_address(daemon: Daemon, containers: list[str]) -> None:
    c = name("hostnet")
    containers.append(c)
    daemon.docker("run", "-d", "--network", "host", "--name", c, "busybox", "sleep", "600")
    settings = container_net(daemon, c)
    assert settings["IPAddress"] == "" and "host" in settings["Networks"]  # type: ignore[operator]


def test_network_none_has_only_loopback(daemon: Daemon, containers: list[str]) -> None:
    d = daemon
    inside = interfaces(d.docker("run", "--rm", "--network", "none", "busybox",
                                  "ip", "-o", "link").stdout)
    assert inside == {"lo"}
    c = name("nonet")
    containers.append(c)
    d.docker("run", "-d", "--network", "none", "--name", c, "busybox", "sleep", "600")
    settings = container_net(d, c)
    assert settings["IPAddress"] == "" and list(settings["Networks"]) == ["none"]  # type: ignore[call-overload]


def test_network_container_shares_the_other_ones(daemon: Daemon,
                                                 containers: list[str]) -> None:
    d = daemon
    owner = name("owner")
    containers.append(owner)
    d.docker("run", "-d", "--name", owner, "busybox", *httpd_argv("shared-ns", 8080))
    cid = d.docker("inspect", "-f", "{{.Id}}", owner).stdout.strip()
    mine = d.docker("exec", owner, "ip", "-4", "-o", "addr").stdout
    for ref in (owner, cid):
        theirs = d.docker("run", "--rm", "--network", f"container:{ref}", "busybox",
                          "ip", "-4", "-o", "addr").stdout
        assert theirs == mine
    # and its loopback is the owner's
    assert wget_in(d, ["run", "--rm", "--network", f"container:{owner}", "busybox"],
                   "http://127.0.0.1:8080/") == "shared-ns"


def test_network_container_needs_a_running_container(daemon: Daemon,
                                                     containers: list[str]) -> None:
    d = daemon
    done = d.docker("run", "--rm", "--network", "container:nosuchone", "busybox", "true",
                    check=False)
    assert done.returncode != 0 and "nosuchone" in done.stderr
    stopped = name("stopped")
    containers.append(stopped)
    d.docker("create", "--name", stopped, "busybox", "true")
    done = d.docker("run", "--rm", "--network", f"container:{stopped}", "busybox", "true",
                    check=False)
    assert done.returncode != 0 and "non running container" in done.stderr, done.stderr
