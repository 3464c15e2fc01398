"""run/create networking flags -> the create body docker 28's CLI sends, and its refusals
(issue 11)."""

from __future__ import annotations

import pytest

from berth.cli.commands.run import COMMAND as RUN
from berth.cli.flags import UsageError
from berth.cli.portspec import parse_expose, parse_publish
from berth.cli.runconfig import build_spec
from berth.client.networking import PortBinding


def body(*argv: str) -> dict:
    opts, args = RUN.flagset.parse([*argv, "busybox"])
    return build_spec(opts, args, {}, detach=True).to_json()


def refusal(*argv: str) -> str:
    with pytest.raises(UsageError) as err:
        body(*argv)
    return str(err.value)


def test_publish_binds_each_container_port():
    doc = body("-p", "8888:8080", "-p", "127.0.0.1:5353:53/udp", "-p", "9090",
               "-p", "7000:7000/SCTP")
    assert doc["HostConfig"]["PortBindings"] == {
        "8080/tcp": [{"HostIp": "", "HostPort": "8888"}],
        "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}],
        "9090/tcp": [{"HostIp": "", "HostPort": ""}],
        "7000/sctp": [{"HostIp": "", "HostPort": "7000"}],
    }
    assert doc["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}, "9090/tcp": {},
                                   "7000/sctp": {}}


def test_publish_range_is_expanded_client_side():
    doc = body("-p", "8000-8002:9000-9002")
    assert doc["HostConfig"]["PortBindings"] == {
        f"{9000 + i}/tcp": [{"HostIp": "", "HostPort": str(8000 + i)}] for i in range(3)}


def test_host_range_for_one_container_port_stays_a_range():
    _, bindings = parse_publish(["8000-8010:80"])
    assert bindings == {"80/tcp": (PortBinding("", "8000-8010"),)}


def test_same_port_twice_gets_two_bindings():
    _, bindings = parse_publish(["127.0.0.1:8080:80", "8081:80", "published=8082,target=80"])
    assert bindings == {"80/tcp": (PortBinding("127.0.0.1", "8080"), PortBinding("", "8081"),
                                   PortBinding("", "8082"))}


@pytest.mark.parametrize(("spec", "message"), [
    ("99999:80", "invalid hostPort: 99999"),
    ("80:99999", "invalid containerPort: 99999"),
    ("x", "invalid containerPort: x"),
    ("1.2.3.4:80", "invalid hostPort: 1.2.3.4"),
    ("8000-8010:80-81", "invalid ranges specified for container and host Ports: 80-81 and "
                        "8000-8010"),
    ("80/xyz", "invalid proto: xyz"),
    ("80-70", "invalid containerPort: 80-70"),
    ("abc:80", "invalid hostPort: abc"),
    ("1.2.3:80:80", "invalid IP address: 1.2.3"),
    ("80:", "no port specified: 80:<empty>"),
    ("[::1]:80:80", "invalid IP address: ::1: berth publishes ports on IPv4 addresses only"),
    ("published=1,=2", "invalid publish opts format (should be name=value but got '=2')"),
])
def test_bad_publish_specs_as_docker(spec, message):
    assert refusal("-p", spec) == message


def test_publish_all_and_expose():
    doc = body("-P", "--expose", "7000-7002/udp", "--expose", "80", "-p", "80:80")
    assert doc["HostConfig"]["PublishAllPorts"] is True
    assert list(doc["ExposedPorts"]) == ["80/tcp", "7000/udp", "7001/udp", "7002/udp"]


@pytest.mark.parametrize(("spec", "message"), [
    ("x", 'invalid range format for --expose: x, error: strconv.ParseUint: parsing "x": '
          "invalid syntax"),
    ("80-70", "invalid range format for --expose: 80-70, error: invalid range specified for "
              "port: 80-70"),
    ("1.2.3.4:80", "invalid port format for --expose: 1.2.3.4:80"),
    ("99999", 'invalid range format for --expose: 99999, error: strconv.ParseUint: parsing '
              '"99999": value out of range'),
])
def test_bad_expose_as_docker(spec, message):
    with pytest.raises(UsageError) as err:
        parse_expose([spec])
    assert str(err.value) == message


def test_default_network_body():
    doc = body()
    assert doc["HostConfig"]["NetworkMode"] == "default"
    assert doc["NetworkingConfig"] == {"EndpointsConfig": {"default": {}}}
    host = doc["HostConfig"]
    assert (host["Dns"], host["DnsSearch"], host["DnsOptions"]) == ([], [], [])
    assert "Links" not in host and "ExtraHosts" not in host and "ExposedPorts" not in doc


def test_links_dns_and_hosts_reach_host_config():
    host = body("--link", "db:db", "--link", "cache", "--dns", "1.1.1.1", "--dns-search",
                "example.com.", "--dns-option", "ndots:2", "--dns-opt", "timeout:1",
                "--add-host", "h1:10.0.0.1", "--add-host", "h2=10.0.0.2",
                "--add-host", "gw:host-gateway", "--add-host", "v6=[::1]")["HostConfig"]
    assert host["Links"] == ["db:db", "cache"]
    assert host["Dns"] == ["1.1.1.1"]
    assert host["DnsSearch"] == ["example.com"]
    assert host["DnsOptions"] == ["ndots:2", "timeout:1"]
    assert host["ExtraHosts"] == ["h1:10.0.0.1", "h2:10.0.0.2", "gw:host-gateway", "v6:::1"]


def test_user_network_gets_aliases_ip_and_links_on_its_endpoint():
    doc = body("--network", "appnet", "--network-alias", "api", "--net-alias", "web",
               "--ip", "10.88.1.5", "--link", "db:dbalias")
    assert doc["HostConfig"]["NetworkMode"] == "appnet"
    assert doc["HostConfig"]["Links"] == ["db:dbalias"]
    assert doc["NetworkingConfig"] == {"EndpointsConfig": {"appnet": {
        "IPAMConfig": {"IPv4Address": "10.88.1.5"}, "Links": ["db:dbalias"],
        "Aliases": ["api", "web"]}}}


def test_one_network_without_settings_sends_no_endpoint():
    for flag in ("--network", "--net"):
        doc = body(flag, "appnet")
        assert doc["HostConfig"]["NetworkMode"] == "appnet"
        assert doc["NetworkingConfig"] == {"EndpointsConfig": {}}
    assert body("--network", "host")["HostConfig"]["NetworkMode"] == "host"
    assert body("--network", "container:db")["HostConfig"]["NetworkMode"] == "container:db"


def test_second_network_is_an_extra_endpoint():
    doc = body("--network", "front", "--net", "back", "--network-alias", "api")
    assert doc["HostConfig"]["NetworkMode"] == "front"
    assert doc["NetworkingConfig"]["EndpointsConfig"] == {"front": {"Aliases": ["api"]},
                                                          "back": {}}


def test_network_value_without_word_pairs_is_a_name():
    assert body("--network", "name=")["HostConfig"]["NetworkMode"] == "name="


def test_network_long_syntax():
    doc = body("--network", "name=appnet,alias=a1,alias=a2,ip=10.88.1.9")
    assert doc["HostConfig"]["NetworkMode"] == "appnet"
    assert doc["NetworkingConfig"]["EndpointsConfig"] == {"appnet": {
        "IPAMConfig": {"IPv4Address": "10.88.1.9"}, "Aliases": ["a1", "a2"]}}


def test_mac_address_goes_to_config_and_endpoint():
    doc = body("--mac-address", "02:42:ac:11:00:02")
    assert doc["MacAddress"] == "02:42:ac:11:00:02"
    assert doc["NetworkingConfig"]["EndpointsConfig"] == {
        "default": {"MacAddress": "02:42:ac:11:00:02"}}


@pytest.mark.parametrize(("argv", "message"), [
    (("--network-alias", "x"), "network-scoped aliases are only supported for user-defined "
                               "networks"),
    (("--network", "bridge", "--network-alias", "x"),
     "network-scoped aliases are only supported for user-defined networks"),
    (("--network", "host", "--network-alias", "x"),
     "network-scoped aliases are only supported for user-defined networks"),
    (("--net", "host", "--network", "host"), 'network "host" is specified multiple times'),
    (("--network", "a", "--network", "host"),
     "conflicting options: cannot attach both user-defined and non-user-defined "
     "network-modes"),
    (("--network", "name=a,alias=x", "--network-alias", "y"),
     "conflicting options: cannot specify both --network-alias and per-network alias"),
    (("--mac-address", "x"), "x is not a valid mac address"),
])
def test_cross_flag_refusals_as_docker(argv, message):
    assert refusal(*argv) == message


@pytest.mark.parametrize(("argv", "message"), [
    (("--link", "x:y:z"), 'invalid argument "x:y:z" for "--link" flag: bad format for links: '
                          "x:y:z"),
    (("--link", ""), 'invalid argument "" for "--link" flag: empty string specified for links'),
    (("--add-host", "x"), 'invalid argument "x" for "--add-host" flag: bad format for '
                          'add-host: "x"'),
    (("--add-host", "x:y"), 'invalid argument "x:y" for "--add-host" flag: invalid IP address '
                            'in add-host: "y"'),
    (("--dns", "x"), 'invalid argument "x" for "--dns" flag: IP address is not correctly '
                     "formatted: x"),
    (("--dns-search", "a b"), 'invalid argument "a b" for "--dns-search" flag: a b is not a '
                              "valid domain"),
    (("--network", "alias=x"), 'invalid argument "alias=x" for "--network" flag: network '
                               "name/id is not specified"),
    (("--net", "name=a,foo=b"), 'invalid argument "name=a,foo=b" for "--net" flag: invalid '
                                "field key foo"),
])
def test_flag_validators_as_docker(argv, message):
    with pytest.raises(UsageError) as err:
        RUN.flagset.parse([*argv, "busybox"])
    assert str(err.value) == message


def test_run_help_lists_the_network_flags_once():
    text = RUN.help("berth run")
    for flag in ("--publish list", "--publish-all", "--network network", "--network-alias",
                 "--add-host", "--dns-option", "--expose", "--ip string", "--link",
                 "--mac-address"):
        assert flag in text
    assert "--net " not in text and "--dns-opt " not in text and "--net-alias" not in text


def test_run_refusal_is_printed_as_docker(berth, daemon):
    code, _out, err = berth("run", "-p", "99999:80", "busybox")
    assert code == 125
    assert err == "berth: invalid hostPort: 99999\n\nRun 'berth run --help' for more " \
                  "information\n"
    assert not [r for r in daemon.state.requests if r.path.endswith("/containers/create")]


def test_run_flag_error_is_printed_with_usage(berth, daemon):
    code, _, err = berth("create", "--add-host", "x", "busybox")
    assert code == 125
    assert err.startswith('invalid argument "x" for "--add-host" flag: bad format for '
                          'add-host: "x"\n\nUsage:  berth create')
