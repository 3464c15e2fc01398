"""Legacy links on the default bridge through the docker CLI: the environment docker
gives a linking container, the /etc/hosts line, reaching the linked container by its
alias, and the hosts file kept current when the linked container comes back with a new
address."""

from __future__ import annotations

import time

from tests.compat.daemon import Daemon
from tests.compat.netserve import httpd_argv, ip_of, name, wget_in


def _env(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_link_env_and_hosts(daemon: Daemon, containers: list[str]) -> None:
    d = daemon
    db, web = name("dbname"), name("web")
    containers += [db, web]
    d.docker("run", "-d", "--expose", "5432", "--name", db, "-e", "SECRET_ROLE=primary",
             "busybox", *httpd_argv("from-db", 5432))
    ip = ip_of(d, db)
    db_id = d.docker("inspect", "-f", "{{.Id}}", db).stdout.strip()
    env = _env(d.docker("run", "--rm", "--name", web, "--link", f"{db}:db", "busybox",
                        "env").stdout)
    assert env["DB_NAME"] == f"/{web}/db"
    assert env["DB_PORT"] == f"tcp://{ip}:5432"
    assert env["DB_PORT_5432_TCP"] == f"tcp://{ip}:5432"
    assert env["DB_PORT_5432_TCP_ADDR"] == ip
    assert env["DB_PORT_5432_TCP_PORT"] == "5432"
    assert env["DB_PORT_5432_TCP_PROTO"] == "tcp"
    assert env["DB_ENV_SECRET_ROLE"] == "primary"
    # docker's Config.Env: not HOME and PATH, nor the HOSTNAME the daemon adds at a start
    assert not {"DB_ENV_PATH", "DB_ENV_HOME", "DB_ENV_HOSTNAME"} & set(env)
    config_env = d.docker("inspect", "-f", "{{json .Config.Env}}", db).stdout
    assert "SECRET_ROLE=primary" in config_env and "HOSTNAME=" not in config_env
    hosts = d.docker("run", "--rm", "--link", f"{db}:db", "busybox",
                     "cat", "/etc/hosts").stdout
    assert f"{ip}\tdb {db_id[:12]} {db}" in hosts.splitlines(), hosts
    # and the alias reaches it
    assert wget_in(d, ["run", "--rm", "--link", f"{db}:db", "busybox"],
                   "http://db:5432/") == "from-db"


def test_link_to_unknown_container_is_refused(daemon: Daemon) -> None:
    done = daemon.docker("run", "--rm", "--link", "nosuchcontainer:db", "busybox", "true",
                         check=False)
    assert done.returncode != 0
    assert "nosuchcontainer" in done.stderr, done.stderr


def test_hosts_follow_a_restarted_link(daemon: Daemon, containers: list[str]) -> None:
    d = daemon
    db, web, squatter = name("db"), name("web"), name("squat")
    containers += [db, web, squatter]
    d.docker("run", "-d", "--name", db, "busybox", *httpd_argv("db-again", 5432))
    old = ip_of(d, db)
    d.docker("run", "-d", "--name", web, "--link", f"{db}:db", "busybox", "sleep", "600")
    assert f"{old}\tdb" in d.docker("exec", web, "cat", "/etc/hosts").stdout
    d.docker("stop", "-t", "1", db)
    # another container starts while db is down and may take its old address
    d.docker("run", "-d", "--name", squatter, "busybox", "sleep", "600")
    d.docker("start", db)
    new = ip_of(d, db)
    deadline = time.monotonic() + 10
    while True:
        hosts = d.docker("exec", web, "cat", "/etc/hosts").stdout
        if f"{new}\tdb" in hosts:
            break
        assert time.monotonic() < deadline, (old, new, hosts)
        time.sleep(0.2)
    if new != old:
        assert f"{old}\tdb" not in hosts
    assert wget_in(d, ["exec", web], "http://db:5432/") == "db-again"
