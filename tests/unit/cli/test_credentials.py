"""``berth login``'s config.json, read and written as docker's."""

from __future__ import annotations

import base64
import json

from berth.cli import credentials


def test_store_lookup_header_and_remove_keep_other_keys(tmp_path):
    env = {"DOCKER_CONFIG": str(tmp_path / "cfg")}
    path = tmp_path / "cfg" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"auths": {"other:1": {"auth": "eDp5"}}, "psFormat": "x"}))
    credentials.store(env, "localhost:5000", "alice", "p:w")
    credentials.store(env, "https://index.docker.io/v1/", "bob", "hub")
    doc = json.loads(path.read_text())
    assert doc["psFormat"] == "x" and doc["auths"]["other:1"] == {"auth": "eDp5"}
    assert doc["auths"]["localhost:5000"]["auth"] == base64.b64encode(b"alice:p:w").decode()
    assert path.stat().st_mode & 0o777 == 0o600
    assert credentials.lookup(env, "http://localhost:5000/") == ("alice", "p:w")
    assert credentials.lookup(env, "docker.io") == ("bob", "hub")

    header = credentials.header(env, "localhost:5000/team/app")
    assert header is not None
    sent = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    assert sent == {"username": "alice", "password": "p:w", "serveraddress": "localhost:5000"}
    hub = credentials.header(env, "busybox")
    assert hub is not None and "bob" in base64.urlsafe_b64decode(hub + "==").decode()
    assert credentials.header(env, "quay.io/x/y") is None

    assert credentials.remove(env, "localhost:5000")
    assert not credentials.remove(env, "localhost:5000")
    assert credentials.lookup(env, "localhost:5000") is None


def test_registry_of_and_keys():
    assert credentials.registry_of("busybox") == "docker.io"
    assert credentials.registry_of("team/app") == "docker.io"
    assert credentials.registry_of("localhost/app") == "localhost"
    assert credentials.registry_of("Reg.io:5000/app") == "reg.io:5000"
    assert credentials.server_key("registry-1.docker.io") == "https://index.docker.io/v1/"
    assert credentials.config_path({"HOME": "/h"}) == "/h/.docker/config.json"
