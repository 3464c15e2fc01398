"""run/create security flags -> the create body docker 28's CLI sends, and its refusals
(issue 13)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from berth.cli.commands.run import COMMAND as RUN
from berth.cli.flags import UsageError
from berth.cli.runconfig import build_spec


def body(*argv: str) -> dict:
    opts, args = RUN.flagset.parse([*argv, "busybox"])
    return build_spec(opts, args, {}, detach=True).to_json()


def refusal(*argv: str) -> str:
    with pytest.raises(UsageError) as err:
        body(*argv)
    return str(err.value)


def test_fields_sent_as_docker_sends_them():
    host = body("--cap-add", "net_admin", "--cap-drop", "ALL", "--privileged",
                "--security-opt", "no-new-privileges", "--group-add", "audio",
                "--sysctl", "net.ipv4.ip_forward=1", "--pid", "host", "--ipc", "shareable",
                "--uts", "host", "--cgroupns", "host", "--userns", "host")["HostConfig"]
    assert host["CapAdd"] == ["CAP_NET_ADMIN"] and host["CapDrop"] == ["ALL"]
    assert host["Privileged"] is True and host["SecurityOpt"] == ["no-new-privileges"]
    assert host["GroupAdd"] == ["audio"] and host["Sysctls"] == {"net.ipv4.ip_forward": "1"}
    assert (host["PidMode"], host["IpcMode"], host["UTSMode"], host["CgroupnsMode"],
            host["UsernsMode"]) == ("host", "shareable", "host", "host", "host")
    plain = body()["HostConfig"]
    assert not {"CapAdd", "Privileged", "SecurityOpt", "PidMode", "MaskedPaths"} & set(plain)


def test_capabilities_normalised_as_docker_28_sends_them():
    host = body("--cap-add", "net_admin", "--cap-add", "sys_time", "--cap-add", "chown",
                "--cap-add", "CHOWN", "--cap-drop", "NET_ADMIN", "--cap-drop", "kill",
                "--cap-drop", "all")["HostConfig"]
    assert host["CapAdd"] == ["CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_TIME"]
    assert host["CapDrop"] == ["ALL", "CAP_KILL", "CAP_NET_ADMIN"]


def test_seccomp_profile_file_is_sent_inline(tmp_path: Path):
    profile = tmp_path / "p.json"
    profile.write_text('{\n  "defaultAction": "SCMP_ACT_ALLOW",\n  "syscalls": []\n}\n')
    host = body("--security-opt", f"seccomp={profile}")["HostConfig"]
    assert host["SecurityOpt"] == ['seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[]}']
    assert json.loads(host["SecurityOpt"][0].removeprefix("seccomp="))
    assert body("--security-opt", "seccomp=unconfined")["HostConfig"]["SecurityOpt"] == [
        "seccomp=unconfined"]
    assert refusal("--security-opt", f"seccomp={tmp_path}/nope.json") == (
        f"opening seccomp profile ({tmp_path}/nope.json) failed: open "
        f"{tmp_path}/nope.json: no such file or directory")


def test_systempaths_unconfined_is_client_side():
    host = body("--security-opt", "systempaths=unconfined")["HostConfig"]
    assert host["MaskedPaths"] == [] and host["ReadonlyPaths"] == []
    assert "SecurityOpt" not in host


@pytest.mark.parametrize(("argv", "message"), [
    (("--sysctl", "kernel.panic=1"),
     'invalid argument "kernel.panic=1" for "--sysctl" flag: sysctl \'kernel.panic=1\' is '
     "not allowed"),
    (("--pid", "bogus"), "--pid: invalid PID mode"),
    (("--pid", "container:"), "--pid: invalid PID mode"),
    (("--uts", "private"), "--uts: invalid UTS mode"),
    (("--userns", "remap"), "--userns: invalid USER mode"),
    (("--cgroupns", "x"), "--cgroupns: invalid CGROUP mode"),
    (("--security-opt", "seccomp"), 'invalid --security-opt: "seccomp"'),
])
def test_refusals(argv: tuple[str, ...], message: str):
    assert refusal(*argv) == message
