"""A create body's security fields parsed as moby's parseSecurityOpt, and shown back in
inspect's HostConfig as docker shows them."""

from __future__ import annotations

import json

import pytest

from berth.api.server import container_json, container_security
from berth.api.types.containers import ContainerCreate, HostConfig
from berth.api.types.decode import decode
from berth.engine.containers.security import Security
from berth.errors import InvalidArgument


def _security(host: dict[str, object]) -> Security:
    body = decode(json.dumps({"Image": "b", "HostConfig": host}).encode(), ContainerCreate)
    return container_json.spec_from_create(body).security


def test_security_opts_parsed() -> None:
    sec = container_security.security_from(HostConfig(SecurityOpt=[
        "no-new-privileges:true", "seccomp=unconfined", "label=level:s0", "apparmor:x"]))
    assert sec.no_new_privileges and sec.seccomp == "unconfined"
    assert sec.labels == ("level:s0",) and sec.apparmor == "x"
    assert not container_security.security_from(
        HostConfig(SecurityOpt=["no-new-privileges=false"])).no_new_privileges
    assert container_security.security_from(
        HostConfig(SecurityOpt=["no-new-privileges"])).no_new_privileges


@pytest.mark.parametrize(("opt", "message"), [
    ("bogus", 'invalid --security-opt 1: "bogus"'),
    ("foo=bar", 'invalid --security-opt 2: "foo=bar"'),
    ("no-new-privileges=maybe", 'invalid --security-opt 2: "no-new-privileges=maybe"'),
])
def test_bad_security_opts(opt: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        container_security.security_from(HostConfig(SecurityOpt=[opt]))
    assert err.value.message == message


def test_label_disable_added_as_docker_does_for_host_namespaces() -> None:
    sec = container_security.security_from(HostConfig(PidMode="host"))
    assert sec.security_opt == ("label=disable",)
    sec = container_security.security_from(HostConfig(Privileged=True,
                                                      SecurityOpt=["label=type:x"]))
    assert sec.security_opt == ("label=type:x",)


def test_create_body_to_security() -> None:
    sec = _security({"CapAdd": ["net_admin"], "CapDrop": ["ALL"], "GroupAdd": ["audio"],
                     "Sysctls": {"net.ipv4.ip_forward": "1"}, "PidMode": "host",
                     "IpcMode": "shareable", "UTSMode": "host", "CgroupnsMode": "host",
                     "UsernsMode": "host", "MaskedPaths": [], "ReadonlyPaths": []})
    assert sec.cap_add == ("net_admin",) and sec.cap_drop == ("ALL",)
    assert sec.sysctls == (("net.ipv4.ip_forward", "1"),)
    assert (sec.pid_mode, sec.ipc_mode, sec.uts_mode, sec.cgroupns_mode,
            sec.userns_mode) == ("host", "shareable", "host", "host", "host")
    assert sec.masked_paths == () and sec.readonly_paths == ()
    plain = _security({})
    assert plain.ipc_mode == "private" and plain.cgroupns_mode == "private"
    assert plain.masked_paths is None


def test_an_old_record_shows_its_spec_modes() -> None:
    from tests.unit.engine.containers.test_namespaces import OLD

    host = container_security.host_config(HostConfig(), OLD)
    assert host.IpcMode == "shareable" and host.CgroupnsMode == "private"
    assert host.CapAdd is None and host.SecurityOpt is None and host.Sysctls is None
