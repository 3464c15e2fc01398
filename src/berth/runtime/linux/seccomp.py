"""Load a spec's ``linux.seccomp`` filter with libseccomp (through ``pyseccomp``).

Semantics follow runc: syscall names the kernel/libseccomp do not know are skipped (a
profile written for a newer kernel must still load); a rule whose action equals the default
is redundant and skipped (libseccomp rejects it). ``CTL_NNP`` is turned off so loading does
not silently set no_new_privs: that stays the spec's ``noNewPrivileges`` decision, which is
why init loads the filter while it still has CAP_SYS_ADMIN when no_new_privs is off.
"""

from __future__ import annotations

import copy
import ctypes
import errno
import json
import os
from functools import cache
from importlib import resources
from typing import Any, cast

from berth.oci import spec as oci
from berth.runtime.linux import syscalls as sc

_ARCHES = {
    "SCMP_ARCH_X86": "X86", "SCMP_ARCH_X86_64": "X86_64", "SCMP_ARCH_X32": "X32",
    "SCMP_ARCH_ARM": "ARM", "SCMP_ARCH_AARCH64": "AARCH64", "SCMP_ARCH_PPC64LE": "PPC64LE",
    "SCMP_ARCH_S390X": "S390X", "SCMP_ARCH_RISCV64": "RISCV64",
}
_OPS = {
    "SCMP_CMP_NE": "NE", "SCMP_CMP_LT": "LT", "SCMP_CMP_LE": "LE", "SCMP_CMP_EQ": "EQ",
    "SCMP_CMP_GE": "GE", "SCMP_CMP_GT": "GT", "SCMP_CMP_MASKED_EQ": "MASKED_EQ",
}


def action(name: str, errno_ret: int | None) -> int:
    """The libseccomp action value of an OCI action name."""
    import pyseccomp

    if name == "SCMP_ACT_ERRNO":
        return int(pyseccomp.ERRNO(errno.EPERM if errno_ret is None else errno_ret))
    table = {
        "SCMP_ACT_ALLOW": pyseccomp.ALLOW,
        "SCMP_ACT_KILL": pyseccomp.KILL,
        "SCMP_ACT_KILL_THREAD": pyseccomp.KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS": pyseccomp.KILL_PROCESS,
        "SCMP_ACT_TRAP": pyseccomp.TRAP,
        "SCMP_ACT_LOG": pyseccomp.LOG,
    }
    try:
        return int(table[name])
    except KeyError:
        raise ValueError(f"unsupported seccomp action {name!r}") from None


def build_filter(profile: oci.Seccomp) -> Any:
    """A ``pyseccomp.SyscallFilter`` for ``profile``, not yet loaded."""
    import pyseccomp

    default = action(profile["defaultAction"], profile.get("defaultErrnoRet"))
    flt = pyseccomp.SyscallFilter(default)
    flt.set_attr(pyseccomp.Attr.CTL_NNP, 0)
    native = pyseccomp.system_arch()
    for arch_name in profile.get("architectures", []):
        arch = getattr(pyseccomp.Arch, _ARCHES.get(arch_name, ""), None)
        if arch is not None and arch != native:
            try:
                flt.add_arch(arch)
            except OSError:
                continue  # an architecture this libseccomp cannot filter
    for rule in profile.get("syscalls", []):
        act = action(rule["action"], rule.get("errnoRet"))
        if act == default:
            continue
        args = [_arg(a) for a in cast(list[dict[str, Any]],
                                      cast(dict[str, Any], rule).get("args", []))]
        for name in rule["names"]:
            if pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name) == -1:
                continue  # __NR_SCMP_ERROR: a name libseccomp does not know
            try:
                flt.add_rule(act, name, *args)
            except OSError:
                continue  # not available on this architecture
    return flt


def _arg(raw: dict[str, Any]) -> Any:
    import pyseccomp

    op = getattr(pyseccomp, _OPS[raw["op"]])
    return pyseccomp.Arg(raw["index"], op, raw["value"], raw.get("valueTwo", 0))


def load(profile: oci.Seccomp) -> None:
    """Install the filter on the calling thread; everything it execs inherits it."""
    build_filter(profile).load()


def compile_program(profile: oci.Seccomp) -> bytes:
    """The profile as a classic BPF program (``struct sock_filter[]``), cached per profile:
    libseccomp's generation costs tens of ms, installing the bytes costs microseconds, and
    every container of a daemon usually shares one profile."""
    key = json.dumps(profile, sort_keys=True)
    program = _PROGRAMS.get(key)
    if program is None:
        fd = os.memfd_create("berth-seccomp", os.MFD_CLOEXEC)
        try:
            with os.fdopen(os.dup(fd), "rb") as reader:
                build_filter(profile).export_bpf(reader)  # only its fileno() is used
            os.lseek(fd, 0, os.SEEK_SET)
            program = b""
            while chunk := os.read(fd, 65536):
                program += chunk
        finally:
            os.close(fd)
        _PROGRAMS[key] = program
    return program


def load_program(program: bytes) -> None:
    """Install a compiled program with PR_SET_SECCOMP (needs no_new_privs or
    CAP_SYS_ADMIN, exactly like seccomp_load)."""
    buf = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // _SOCK_FILTER_SIZE, ctypes.addressof(buf))
    sc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(fprog))


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_SOCK_FILTER_SIZE = 8  # u16 code, u8 jt, u8 jf, u32 k
_PROGRAMS: dict[str, bytes] = {}


@cache
def _default_profile() -> oci.Seccomp:
    text = resources.files(__package__).joinpath("seccomp_default.json").read_text()
    return cast(oci.Seccomp, json.loads(text))


def default_profile() -> oci.Seccomp:
    """Docker's default profile (data in ``seccomp_default.json``); a fresh copy."""
    return copy.deepcopy(_default_profile())
