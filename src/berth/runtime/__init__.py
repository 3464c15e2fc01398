"""The runtime seam: a ``ContainerRuntime`` turns an OCI bundle into a running process.

It is used inside the shim (a single-threaded process that is the subreaper of the
container), never inside berthd. The life of one container::

    shim                          runtime                          container init
    ────                          ───────                          ──────────────
    create(id, bundle, stdio) ──▶ namespaces, rootfs, cgroup ────▶ blocked before exec
                              ◀── host pid of init                 (user exec resolved:
                                                                    not found → RuntimeFailure)
    start(id) ──────────────────▶ release ────────────────────────▶ execve(args)
    waitpid(pid)  (the shim is PR_SET_CHILD_SUBREAPER, so init is its child even when
                   runc's intermediate processes have exited)
    exec(id, exec_id, process,  ─▶ a new process in every namespace ─▶ execve(process.args)
         stdio)               ◀── and the cgroup of init; host pid   (the shim's child too)
    kill(id, sig) ──────────────▶ signal init
    delete(id) ─────────────────▶ remove cgroup and runtime state

Implementations: ``NativeRuntime`` (``runtime.linux``, in-process: the fast path) and
``OciCliRuntime`` (``runc``, ``crun``, ``berth-runtime`` via their CLI). Which one a
runtime name means is daemon.py's table: name → *handler*, the string the shim makes the
runtime from (``runtime/shim/runtimes.py``): ``NATIVE``, or a runc-compatible binary (a
``$PATH`` name or an absolute path).

Around the runtime, berthd itself sees a created container as a ``task.Task`` (the shim's
client satisfies it) and reaches the host only through ``host`` (cgroup parent, default
seccomp profile, unmount), never through ``runtime.linux``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from berth.oci import spec as oci

NATIVE = "native"  # the handler of the in-process runtime; any other is an OCI binary


@dataclass(frozen=True)
class Stdio:
    """File descriptors the container's init gets as 0, 1 and 2 (inherited, not closed).

    With a terminal the three are the same pty slave fd."""

    stdin: int
    stdout: int
    stderr: int


class ContainerRuntime(Protocol):
    name: str

    def create(self, container_id: str, bundle: Path, stdio: Stdio) -> int:
        """Create the container from ``bundle/config.json`` (rootfs already mounted at
        ``root.path``); return the host pid of its init, which waits before exec.
        Raise ``errors.RuntimeFailure`` with the runtime's message on failure."""
        ...

    def start(self, container_id: str) -> None:
        """Let the created init exec the user's process."""
        ...

    def exec(self, container_id: str, exec_id: str, process: oci.Process,
             stdio: Stdio) -> int:
        """Run ``process`` in the running container (its namespaces, cgroup, seccomp
        profile; the process's own user, env, cwd, capabilities, rlimits); return its host
        pid once it has exec'd. The caller reaps it (it is a subreaper). Raise
        ``errors.RuntimeFailure`` with runc's words ('exec: "x": executable file not
        found in $PATH'), ``errors.Conflict`` if the container is not running."""
        ...

    def kill(self, container_id: str, signal: int) -> None: ...

    def delete(self, container_id: str) -> None:
        """Remove what ``create`` made outside the process (cgroup, state). Idempotent."""
        ...
