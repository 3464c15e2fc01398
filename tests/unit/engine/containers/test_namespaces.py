"""The namespace preparer without root: container:<x> resolved to x's id at create, the
donor's checks and the namespace paths at a start, an old record's IPC mode. The real
joins and the shareable /dev/shm are tests/compat/test_security_opts.py's."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from berth.engine.containers.model import Container, ContainerSpec, State, Status
from berth.engine.containers.namespaces import NamespacePreparer
from berth.engine.containers.security import Security
from berth.errors import Conflict, InvalidArgument, NotFound
from berth.runtime import spec as runtime_spec


def _container(cid: str, name: str, sec: Security, running: bool = True,
               ipc_mode: str = "private") -> Container:
    return Container(
        id=cid, name=name, created="2024-01-01T00:00:00Z",
        spec=ContainerSpec(image="busybox", security=sec, ipc_mode=ipc_mode),
        image_id="sha256:" + "1" * 64, path="sh", args=(), cmd=("sh",), entrypoint=None,
        labels=(), env=(), working_dir="/", user="", hostname="c", runtime="native",
        log_path="", state=State(status=Status.RUNNING if running else Status.EXITED,
                                 pid=4242 if running else 0))


class Lookup:
    def __init__(self, *containers: Container) -> None:
        self.containers = containers

    def get(self, ref: str) -> Container:
        for c in self.containers:
            if ref in (c.id, c.name):
                return c
        raise NotFound(f"No such container: {ref}")


DONOR = _container("d" * 64, "donor", Security(ipc_mode="shareable"))
PRIVATE = _container("e" * 64, "private", Security(ipc_mode="private"))
STOPPED = _container("f" * 64, "stopped", Security(ipc_mode="shareable"), running=False)
OLD = _container("a" * 64, "old", Security(), ipc_mode="shareable")  # before Security


def _preparer() -> NamespacePreparer:
    return NamespacePreparer(Path("/nonexistent"), Lookup(DONOR, PRIVATE, STOPPED, OLD))


def test_check_records_the_donor_by_id() -> None:
    spec = ContainerSpec(image="b", security=Security(pid_mode="container:donor",
                                                      ipc_mode="container:donor"))
    checked = asyncio.run(_preparer().check(spec))
    assert checked.security.pid_mode == checked.security.ipc_mode == "container:" + "d" * 64
    plain = ContainerSpec(image="b")
    assert asyncio.run(_preparer().check(plain)) is plain


def test_check_refuses_an_unknown_donor() -> None:
    spec = ContainerSpec(image="b", security=Security(pid_mode="container:nope"))
    with pytest.raises(InvalidArgument) as err:
        asyncio.run(_preparer().check(spec))
    assert err.value.message == "No such container: nope"


def _joined(sec: Security) -> list[object]:
    c = _container("b" * 64, "joiner", sec)
    opts = asyncio.run(_preparer().prepare(c))
    spec = runtime_spec.generate(Path("/rootfs"), opts)
    return list(spec["linux"]["namespaces"])


def test_prepare_joins_the_donors_namespaces() -> None:
    spaces = _joined(Security(pid_mode="container:donor", ipc_mode="container:old"))
    assert {"type": "pid", "path": "/proc/4242/ns/pid"} in spaces
    assert {"type": "ipc", "path": "/proc/4242/ns/ipc"} in spaces, "an old shareable record"


@pytest.mark.parametrize(("sec", "error", "message"), [
    (Security(pid_mode="container:" + "f" * 64), Conflict,
     f"failed to join PID namespace: container {'f' * 64} is not running"),
    (Security(ipc_mode="container:" + "e" * 64), InvalidArgument,
     f"failed to join IPC namespace: container {'e' * 64}: non-shareable IPC (hint: use "
     "IpcMode:shareable for the donor container)"),
    (Security(pid_mode="container:gone"), InvalidArgument,
     "failed to join PID namespace: No such container: gone"),
])
def test_prepare_refuses_as_moby(sec: Security, error: type[Exception], message: str
                                 ) -> None:
    c = _container("b" * 64, "joiner", sec)
    with pytest.raises(error) as err:
        asyncio.run(_preparer().prepare(c))
    assert err.value.message == message  # type: ignore[attr-defined]
