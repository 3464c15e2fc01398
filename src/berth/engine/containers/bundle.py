"""Everything written to disk to start one container: the per-container files
(hostname, hosts, resolv.conf) under the data root, and the OCI bundle under the exec root.

    <data-root>/containers/<id>/          survives reboots; removed with the container
        <id>-json.log   hostname   hosts   resolv.conf
    <exec-root>/containers/<id>/          one start's runtime state; removed at exit
        config.json   rootfs/   exit.json   (its shim's sockets: runtime/sockets.py)
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from berth.oci.spec import Spec

HOSTS = """127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
"""

_LOCAL_NAMESERVER = re.compile(r"^\s*nameserver\s+(127\.\S*|::1)\s*$", re.MULTILINE)


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write and rename, so a container never sees half a file. No fsync: every file
    written here is regenerated at each start, so one lost to a power cut is rewritten
    before anything reads it again (and the exec root is a tmpfs)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_etc_files(container_dir: Path, hostname: str) -> list[tuple[str, str]]:
    """Write hostname, hosts and resolv.conf; return (host file, container path) binds.

    resolv.conf is the host's without loopback nameservers, which cannot be reached from
    the container's own network namespace (docker filters them the same way)."""
    container_dir.mkdir(parents=True, exist_ok=True)
    try:
        resolv = Path("/etc/resolv.conf").read_text()
    except OSError:
        resolv = ""
    resolv = _LOCAL_NAMESERVER.sub("", resolv)
    files = {"hostname": hostname + "\n", "hosts": HOSTS, "resolv.conf": resolv}
    binds = []
    for name, content in files.items():
        write_atomic(container_dir / name, content.encode())
        binds.append((str(container_dir / name), f"/etc/{name}"))
    return binds


def write_bundle(state_dir: Path, spec: Spec) -> None:
    (state_dir / "rootfs").mkdir(parents=True, exist_ok=True)
    write_atomic(state_dir / "config.json", json.dumps(spec).encode())


def read_spec(state_dir: Path) -> Spec:
    """The ``config.json`` a running container was started from (an exec's base)."""
    spec: Spec = json.loads((state_dir / "config.json").read_bytes())
    return spec

