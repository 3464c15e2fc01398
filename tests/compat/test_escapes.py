"""Escape and abuse attempts from a default container (issue 13's battery), each of which
must fail; each is run again with the one option that lifts the control that blocks it
(a capability, the seccomp filter, --privileged), so the test shows that control is what
stops it and not something else. Under every runtime."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.compat.daemon import Daemon

RUNTIMES = ["native", "runc", "crun"]

# (name, script, what a default container answers on stderr, the option lifting the
# control, what the script prints only then: "" for an attempt that fails anyway once the
# control is lifted, with another error than the control's). Nothing here changes the host
# when the control is lifted: the module is not a module, the block device is an unbound
# loop device, the sysctl is the container's own network namespace's.
ATTEMPTS = [
    ("mount a filesystem", "mkdir -p /m; mount -t tmpfs t /m && echo DONE",
     "permission denied", ("--cap-add", "SYS_ADMIN"), "DONE"),
    ("load a kernel module", "echo junk > /x.ko; insmod /x.ko",
     "Operation not permitted", ("--cap-add", "SYS_MODULE"), ""),
    ("write /proc/sys", "echo 1 > /proc/sys/net/ipv4/ip_forward && echo DONE",
     "Read-only file system", ("--privileged",), "DONE"),
    ("open a host block device", "mknod /dev/hostloop b 7 0; head -c1 /dev/hostloop",
     "Operation not permitted", ("--privileged",), ""),
    ("create a user namespace", "unshare -U -r id -u && echo DONE",
     "Operation not permitted", ("--security-opt", "seccomp=unconfined"), "DONE"),
    ("reach host PIDs", "kill -0 1 && cat /proc/1/comm",
     "", ("--pid", "host"), Path("/proc/1/comm").read_text().strip()),
]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize(("name", "script", "refusal", "lift", "lifted"), ATTEMPTS,
                         ids=[a[0] for a in ATTEMPTS])
def test_attempt_fails_and_its_control_is_what_blocks_it(
        daemon: Daemon, runtime: str, name: str, script: str, refusal: str,
        lift: tuple[str, ...], lifted: str) -> None:
    rt = ("--runtime", runtime)
    blocked = daemon.docker("run", "--rm", *rt, "busybox", "sh", "-c", script, check=False)
    assert refusal in blocked.stderr, blocked
    if lifted:
        assert lifted not in blocked.stdout.splitlines(), f"{name} succeeded: {blocked}"
    opened = daemon.docker("run", "--rm", *rt, *lift, "busybox", "sh", "-c", script,
                           check=False)
    if refusal:
        assert refusal not in opened.stderr, opened
    if lifted:
        assert lifted in opened.stdout.splitlines(), opened
