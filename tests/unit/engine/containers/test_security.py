"""A container's security options as docker resolves them: capabilities (moby's
TweakCapabilities), docker-format seccomp profiles, namespace modes, privileged, sysctls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from berth.engine.containers import capabilities, seccomp
from berth.engine.containers.security import Security, spec_opts, validate
from berth.errors import InvalidArgument
from berth.runtime import spec as runtime_spec
from berth.runtime.spec import DEFAULT_CAPABILITIES


def _spec(sec: Security) -> dict[str, object]:
    return dict(runtime_spec.generate(Path("/rootfs"), spec_opts(sec)))


def test_cap_names_any_case_with_or_without_prefix() -> None:
    caps = capabilities.resolve(["net_admin", "CAP_SYS_TIME"], ["chown", "Cap_Kill"], False)
    assert "CAP_NET_ADMIN" in caps and "CAP_SYS_TIME" in caps
    assert "CAP_CHOWN" not in caps and "CAP_KILL" not in caps
    assert caps[:len(DEFAULT_CAPABILITIES) - 2] == [
        c for c in DEFAULT_CAPABILITIES if c not in ("CAP_CHOWN", "CAP_KILL")]


def test_drop_all_then_add() -> None:
    assert capabilities.resolve(["NET_ADMIN"], ["ALL"], False) == ["CAP_NET_ADMIN"]
    assert capabilities.resolve([], ["all"], False) == []


def test_add_all_minus_drop() -> None:
    caps = capabilities.resolve(["ALL"], ["NET_ADMIN"], False)
    assert "CAP_NET_ADMIN" not in caps and "CAP_SYS_ADMIN" in caps
    assert capabilities.resolve([], [], True) == list(capabilities.current())


def test_unknown_capability_as_docker_words_it() -> None:
    with pytest.raises(InvalidArgument) as err:
        validate(Security(cap_add=("foo",)))
    assert err.value.message == 'invalid CapAdd: unknown capability: "CAP_FOO"'
    with pytest.raises(InvalidArgument) as err:
        validate(Security(cap_drop=("CAP_NOPE",)))
    assert err.value.message == 'invalid CapDrop: unknown capability: "CAP_NOPE"'


def test_privileged_spec() -> None:
    spec = _spec(Security(privileged=True))
    linux = spec["linux"]
    assert isinstance(linux, dict)
    assert "seccomp" not in linux
    assert linux["maskedPaths"] == [] and linux["readonlyPaths"] == []
    assert linux["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    paths = {d["path"] for d in linux["devices"]}
    assert "/dev/null" in paths and "/dev/kmsg" in paths and "/dev/console" not in paths
    sys_mount = next(m for m in spec["mounts"] if m["destination"] == "/sys")  # type: ignore
    assert "ro" not in sys_mount["options"]
    assert spec["process"]["capabilities"]["bounding"] == list(  # type: ignore
        capabilities.current())


def test_default_seccomp_follows_added_capabilities() -> None:
    plain = _spec(Security())["linux"]["seccomp"]  # type: ignore[index]
    admin = _spec(Security(cap_add=("SYS_ADMIN",)))["linux"]["seccomp"]  # type: ignore
    allowed = {n for r in admin["syscalls"] if r["action"] == "SCMP_ACT_ALLOW"
               and not r.get("args") for n in r["names"]}
    assert {"mount", "unshare", "setns", "clone", "clone3"} <= allowed
    plain_allowed = {n for r in plain["syscalls"] if r["action"] == "SCMP_ACT_ALLOW"
                     and not r.get("args") for n in r["names"]}
    assert "mount" not in plain_allowed and "clone" not in plain_allowed


def test_unconfined_and_custom_seccomp() -> None:
    assert "seccomp" not in _spec(Security(seccomp="unconfined"))["linux"]  # type: ignore
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "archMap": [
        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
        "syscalls": [{"name": "mkdir", "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                     {"names": ["mount"], "action": "SCMP_ACT_ALLOW",
                      "includes": {"caps": ["CAP_SYS_ADMIN"]}},
                     {"names": ["chmod"], "action": "SCMP_ACT_ERRNO",
                      "excludes": {"caps": ["CAP_CHOWN"]}}]}
    out = _spec(Security(seccomp=json.dumps(profile)))["linux"]["seccomp"]  # type: ignore
    assert out["defaultAction"] == "SCMP_ACT_ALLOW"
    assert len(out["architectures"]) == 2
    assert out["syscalls"] == [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                                "errnoRet": 1}]
    # a privileged container with a profile of its own keeps it, as under docker
    priv = _spec(Security(privileged=True, seccomp=json.dumps(profile)))
    assert [r["names"] for r in priv["linux"]["seccomp"]["syscalls"]  # type: ignore
            ] == [["mkdir"], ["mount"]]


def test_bad_profiles_refused() -> None:
    with pytest.raises(InvalidArgument, match=r"^Decoding seccomp profile failed"):
        validate(Security(seccomp="{not json"))
    with pytest.raises(InvalidArgument, match="both 'name' and 'names'"):
        seccomp.convert('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":'
                        '[{"name":"a","names":["b"],"action":"SCMP_ACT_ERRNO"}]}', [])


def test_namespace_modes() -> None:
    spec = _spec(Security(pid_mode="host", ipc_mode="host", uts_mode="host",
                          cgroupns_mode="host"))
    assert [ns["type"] for ns in spec["linux"]["namespaces"]] == [  # type: ignore
        "mount", "network"]
    shm = [m for m in spec["mounts"] if m["destination"] == "/dev/shm"]  # type: ignore
    assert shm == [{"destination": "/dev/shm", "type": "bind", "source": "/dev/shm",
                    "options": ["rbind", "rprivate"]}]
    none = _spec(Security(ipc_mode="none"))
    assert not [m for m in none["mounts"] if m["destination"] == "/dev/shm"]  # type: ignore


@pytest.mark.parametrize(("sec", "extra", "message"), [
    (Security(pid_mode="bogus"), {}, "invalid PID mode: bogus"),
    (Security(pid_mode="container:"), {}, "invalid PID mode: container:"),
    (Security(ipc_mode="bogus"), {}, "invalid IPC mode: bogus"),
    (Security(uts_mode="bogus"), {}, "invalid UTS mode: bogus"),
    (Security(cgroupns_mode="bogus"), {}, "invalid cgroup namespace mode: bogus"),
    (Security(userns_mode="private"), {}, "invalid USER mode: private"),
    (Security(uts_mode="host"), {"hostname": "box"},
     "conflicting options: hostname and the UTS mode"),
    (Security(sysctls=(("kernel.panic", "1"),)), {},
     'sysctl "kernel.panic" is not in a separate kernel namespace'),
    (Security(sysctls=(("net.ipv4.ip_forward", "1"),)), {"network_mode": "host"},
     'sysctl "net.ipv4.ip_forward" not allowed in host network namespace'),
    (Security(ipc_mode="host", sysctls=(("kernel.shmmax", "1"),)), {},
     'sysctl "kernel.shmmax" is not allowed in the hosts ipc namespace'),
])
def test_refusals(sec: Security, extra: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        validate(sec, **extra)
    assert err.value.message.startswith(message)


def test_namespaced_sysctls_accepted() -> None:
    sec = Security(sysctls=(("net.ipv4.ip_forward", "1"), ("kernel.shmmax", "1"),
                            ("fs.mqueue.msg_max", "20"), ("kernel.domainname", "x")))
    validate(sec)
    assert _spec(sec)["linux"]["sysctl"]["fs.mqueue.msg_max"] == "20"  # type: ignore


def test_no_new_privileges() -> None:
    assert _spec(Security(no_new_privileges=True))["process"][  # type: ignore[index]
        "noNewPrivileges"] is True
