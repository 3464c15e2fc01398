"""The pure parts of init, capabilities, seccomp and the CLI (no root)."""

from __future__ import annotations

import os
import signal

import pytest

from berth.runtime.linux import capabilities, seccomp
from berth.runtime.linux.cli import parse_signal
from berth.runtime.linux.init import ExecError, resolve_executable
from berth.runtime.spec import DEFAULT_CAPABILITIES


@pytest.fixture
def bin_dir(tmp_path):
    d = tmp_path / "bin"
    d.mkdir()
    (d / "tool").write_text("#!/bin/sh\n")
    (d / "tool").chmod(0o755)
    (d / "data").write_text("x")
    (d / "data").chmod(0o644)
    (d / "subdir").mkdir()
    return d


def test_resolve_finds_on_path(bin_dir, tmp_path):
    assert resolve_executable("tool", f"{tmp_path}/none:{bin_dir}") == f"{bin_dir}/tool"
    assert resolve_executable(f"{bin_dir}/tool", "") == f"{bin_dir}/tool"


@pytest.mark.parametrize(("name", "message"), [
    ("nope", 'exec: "nope": executable file not found in $PATH'),
    ("data", 'exec: "data": executable file not found in $PATH'),  # not executable
    ("subdir", 'exec: "subdir": executable file not found in $PATH'),
])
def test_resolve_not_found(bin_dir, name, message):
    with pytest.raises(ExecError) as info:
        resolve_executable(name, str(bin_dir))
    assert str(info.value) == message


@pytest.mark.skipif(os.geteuid() == 0, reason="root may execute anything with an x bit")
def test_resolve_permission_denied_for_non_executable_path(bin_dir):
    with pytest.raises(ExecError, match="permission denied"):
        resolve_executable(f"{bin_dir}/data", "")


def test_resolve_path_errors(bin_dir):
    with pytest.raises(ExecError) as info:
        resolve_executable("/no/such", "")
    assert str(info.value) == 'exec: "/no/such": stat /no/such: no such file or directory'
    with pytest.raises(ExecError) as info:
        resolve_executable(str(bin_dir / "subdir"), "")
    assert str(info.value) == f'exec: "{bin_dir}/subdir": permission denied'


def test_capability_table_and_docker_default():
    assert capabilities.CAPABILITIES["CAP_CHECKPOINT_RESTORE"] == 40
    assert len(capabilities.CAPABILITIES) == 41
    assert sorted(capabilities.CAPABILITIES.values()) == list(range(41))
    assert capabilities.mask(list(DEFAULT_CAPABILITIES)) == 0xA80425FB
    assert capabilities.mask(["chown", "CAP_NOT_A_CAP"]) == 1


def test_default_seccomp_profile_is_docker_like():
    profile = seccomp.default_profile()
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    allowed = {n for rule in profile["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW"
               for n in rule["names"]}
    assert {"read", "write", "execve", "clone", "ptrace", "socket"} <= allowed
    for blocked in ("mount", "umount2", "unshare", "setns", "pivot_root", "keyctl",
                    "add_key", "request_key", "reboot", "kexec_load", "init_module", "bpf",
                    "perf_event_open", "userfaultfd", "swapon", "swapoff", "clock_settime",
                    "settimeofday", "open_by_handle_at", "name_to_handle_at"):
        assert blocked not in allowed
    profile["syscalls"].clear()
    assert seccomp.default_profile()["syscalls"]  # callers get a copy


def test_seccomp_filter_builds_and_skips_unknown_names():
    profile = seccomp.default_profile()
    profile["syscalls"].append({"names": ["no_such_syscall_xyz"], "action": "SCMP_ACT_ALLOW"})
    profile["syscalls"].append({"names": ["getpid"], "action": "SCMP_ACT_ERRNO",
                                "errnoRet": 1})
    assert seccomp.build_filter(profile) is not None  # not loaded: this process stays free


def test_seccomp_actions():
    import pyseccomp

    assert seccomp.action("SCMP_ACT_ALLOW", None) == pyseccomp.ALLOW
    assert seccomp.action("SCMP_ACT_ERRNO", None) == pyseccomp.ERRNO(1)
    assert seccomp.action("SCMP_ACT_ERRNO", 38) == pyseccomp.ERRNO(38)
    assert seccomp.action("SCMP_ACT_KILL", None) == pyseccomp.KILL
    assert seccomp.action("SCMP_ACT_TRAP", None) == pyseccomp.TRAP
    with pytest.raises(ValueError):
        seccomp.action("SCMP_ACT_NOTIFY", None)


@pytest.mark.parametrize(("text", "number"), [("9", 9), ("KILL", 9), ("sigterm", 15),
                                              ("SIGHUP", int(signal.SIGHUP))])
def test_parse_signal(text, number):
    assert parse_signal(text) == number


def test_compiled_program_is_bpf_and_cached():
    program = seccomp.compile_program(seccomp.default_profile())
    assert len(program) % 8 == 0 and len(program) > 8 * 100
    assert seccomp.compile_program(seccomp.default_profile()) is program
