"""Everything written to disk to start one container: the OCI bundle under the exec root
(the per-container /etc files under the data root are the network preparer's:
engine/networks/etcfiles.py).

    <data-root>/containers/<id>/          survives reboots; removed with the container
        <id>-json.log   hostname   hosts   resolv.conf
    <exec-root>/containers/<id>/          one start's runtime state; removed at exit
        config.json   rootfs/   exit.json   (its shim's sockets: runtime/sockets.py)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from berth.oci.spec import Spec


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


def write_bundle(state_dir: Path, spec: Spec) -> None:
    (state_dir / "rootfs").mkdir(parents=True, exist_ok=True)
    write_atomic(state_dir / "config.json", json.dumps(spec).encode())


def read_spec(state_dir: Path) -> Spec:
    """The ``config.json`` a running container was started from (an exec's base)."""
    spec: Spec = json.loads((state_dir / "config.json").read_bytes())
    return spec

