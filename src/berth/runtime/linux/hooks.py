"""OCI lifecycle hooks (runc's ``configs.Hooks.Run``): each hook is run with exactly its
``args`` and ``env``, the container's state JSON on stdin, and an optional timeout.

Where and when each kind runs (runtime-spec ``config.md#posix-platform-hooks``)::

    create:  init mounted the rootfs, stops before pivot_root, asks the caller ─▶
             prestart, createRuntime       caller (runtime namespaces), state "creating"
             createContainer               init (container namespaces), before pivot_root
    start:   init released from exec.fifo:
             startContainer                init, after pivot_root, just before execve
             poststart                     caller, after init was released (warn only)
    delete:  poststop                      caller, after the container is gone (warn only)

The working directory is runc's: the bundle for the caller's hooks at create and start
(runc runs from it), the rootfs for createContainer, the process's cwd for
startContainer, the caller's own for poststop.

A failing prestart, createRuntime or createContainer hook fails ``create`` (and runs the
poststop hooks, as runc does); a failing startContainer hook kills init before it execs.
"""

from __future__ import annotations

import json
import logging
import subprocess
from dataclasses import dataclass, field
from typing import cast

from berth.oci.spec import OCI_VERSION
from berth.runtime.linux.validate import Hook, Hooks

log = logging.getLogger(__name__)


class HookError(Exception):
    """A hook failed; the message is runc's (``error running hook #N: ...``)."""


@dataclass(frozen=True)
class State:
    """The runtime-spec state document a hook reads on stdin."""

    id: str
    status: str  # creating, created, running, stopped
    bundle: str
    pid: int = 0
    annotations: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        doc: dict[str, object] = {"ociVersion": OCI_VERSION, "id": self.id,
                                  "status": self.status}
        if self.pid:
            doc["pid"] = self.pid
        doc["bundle"] = self.bundle
        if self.annotations:
            doc["annotations"] = self.annotations
        return json.dumps(doc, separators=(",", ":")).encode()


def run(hooks: Hooks, kind: str, state: State, cwd: str | None = None) -> None:
    """Run every hook of ``kind`` in order; raise ``HookError`` at the first failure."""
    for i, hook in enumerate(_of_kind(hooks, kind)):
        try:
            _run_one(hook, state, cwd)
        except HookError as err:
            raise HookError(f"error running hook #{i}: {err}") from None


def run_warning(hooks: Hooks, kind: str, state: State, cwd: str | None = None
                ) -> list[str]:
    """poststart/poststop: a failure is logged and the rest still run; returns the
    failures' messages."""
    failures = []
    for i, hook in enumerate(_of_kind(hooks, kind)):
        try:
            _run_one(hook, state, cwd)
        except HookError as err:
            message = f"error running {kind} hook #{i}: {err}"
            log.warning("%s", message)
            failures.append(message)
    return failures


def _of_kind(hooks: Hooks, kind: str) -> list[Hook]:
    return cast(list[Hook], cast(dict[str, object], hooks).get(kind) or [])


def _run_one(hook: Hook, state: State, cwd: str | None) -> None:
    path = hook.get("path") if isinstance(hook, dict) else None
    if not path:
        raise HookError("exec: no command")
    args = hook.get("args") or [path]
    env = dict(_split_env(hook.get("env") or []))
    timeout = hook.get("timeout")
    try:
        # The path as given, never searched on $PATH (Go's exec.Cmd{Path: ...}).
        executable = path if "/" in path else "./" + path
        proc = subprocess.Popen(args, executable=executable, env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                close_fds=True, cwd=cwd)
    except OSError as err:
        raise HookError(f"fork/exec {path}: {(err.strerror or str(err)).lower()}") from None
    try:
        stdout, stderr = proc.communicate(state.to_json(), timeout=timeout or None)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise HookError(f"hook ran past specified timeout of {float(timeout or 0):.1f}s"
                        ) from None
    if proc.returncode != 0:
        how = (f"exit status {proc.returncode}" if proc.returncode > 0
               else f"signal: {_signal_name(-proc.returncode)}")
        raise HookError(f"error running hook: {how}, stdout: {stdout.decode(errors='replace')}"
                        f", stderr: {stderr.decode(errors='replace')}")


def _split_env(entries: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for entry in entries:
        key, _, value = entry.partition("=")
        pairs.append((key, value))
    return pairs


def _signal_name(number: int) -> str:
    import signal

    try:
        return {signal.SIGKILL: "killed", signal.SIGTERM: "terminated"}.get(
            signal.Signals(number), signal.Signals(number).name)
    except ValueError:
        return str(number)
