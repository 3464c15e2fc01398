"""The environment a legacy --link gives, as docker's daemon/links makes it."""

from __future__ import annotations

from berth.engine.networks import legacylinks
from berth.engine.networks.legacylinks import LinkedContainer

DB = LinkedContainer("pg", "0123456789ab", "172.18.0.5", ("5432/tcp", "53/udp", "53/tcp"),
                     ("PATH=/bin", "PASSWORD=x", "HOME=/root"))


def test_link_env_names_ports_and_the_linked_environment() -> None:
    assert legacylinks.link_env("web", "my-db", DB) == [
        "MY_DB_NAME=/web/my-db",
        "MY_DB_PORT=tcp://172.18.0.5:53",
        "MY_DB_PORT_53_TCP=tcp://172.18.0.5:53",
        "MY_DB_PORT_53_TCP_ADDR=172.18.0.5",
        "MY_DB_PORT_53_TCP_PORT=53",
        "MY_DB_PORT_53_TCP_PROTO=tcp",
        "MY_DB_PORT_53_UDP=udp://172.18.0.5:53",
        "MY_DB_PORT_53_UDP_ADDR=172.18.0.5",
        "MY_DB_PORT_53_UDP_PORT=53",
        "MY_DB_PORT_53_UDP_PROTO=udp",
        "MY_DB_PORT_5432_TCP=tcp://172.18.0.5:5432",
        "MY_DB_PORT_5432_TCP_ADDR=172.18.0.5",
        "MY_DB_PORT_5432_TCP_PORT=5432",
        "MY_DB_PORT_5432_TCP_PROTO=tcp",
        "MY_DB_ENV_PASSWORD=x",
    ]


def test_a_link_without_ports_has_no_port_variables() -> None:
    bare = LinkedContainer("pg", "h", "172.18.0.5", (), ())
    assert legacylinks.link_env("web", "db", bare) == ["DB_NAME=/web/db"]


def test_the_hosts_line_names_the_alias_the_hostname_and_the_name() -> None:
    assert legacylinks.hosts_entry("pg", DB).names == ("pg", "0123456789ab")
    assert legacylinks.hosts_entry("db", DB).names == ("db", "0123456789ab", "pg")
