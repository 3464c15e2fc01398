"""``OciCliRuntime``: drives any runc-compatible binary (runc, crun, ``berth-runtime``).

The one module that runs such a binary; always argv lists, never a shell::

    <bin> --root R --log B/log.json --log-format json create --bundle B --pid-file B/init.pid ID
          (stdio fds as the child's 0/1/2; they are inherited by the container's init)
    <bin> --root R start ID
    <bin> --root R kill ID SIG
    <bin> --root R delete --force ID
    <bin> --root R --log T/log.json --log-format json exec --process T/process.json --detach
          --pid-file T/exec.pid ID      (T: a temporary dir per exec; stdio as for create)

With a terminal the binary allocates the pty itself and hands the master back over
``--console-socket`` (SCM_RIGHTS), so ``create_with_console`` and ``exec_with_console``
return it next to the pid.

Errors keep the runtime's words, as docker's CLI maps "executable file not found" to 127;
crun's different wording for that one case is translated to runc's.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from berth.errors import RuntimeFailure
from berth.oci import spec as oci
from berth.runtime import Stdio, sockets
from berth.runtime.linux import console

_CRUN_NOT_FOUND = re.compile(r"executable file `(.*)` not found in \$PATH(: .*)?$")
_GONE = ("does not exist", "not found", "No such file")


class OciCliRuntime:
    def __init__(self, binary: str, root: Path) -> None:
        self.binary = binary
        self.root = root
        self.name = os.path.basename(binary)
        root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def create(self, container_id: str, bundle: Path, stdio: Stdio) -> int:
        return self._create(container_id, bundle, stdio, [])

    def create_with_console(self, container_id: str, bundle: Path) -> tuple[int, int]:
        """Create a container whose spec has ``process.terminal``: return its init pid and
        the pty master the runtime allocated."""
        return self._with_console(
            lambda stdio, extra: self._create(container_id, bundle, stdio, extra),
            lambda pid: self.delete(container_id))

    def exec(self, container_id: str, exec_id: str, process: oci.Process,
             stdio: Stdio) -> int:
        return self._exec(container_id, exec_id, process, stdio, [])

    def exec_with_console(self, container_id: str, exec_id: str,
                          process: oci.Process) -> tuple[int, int]:
        return self._with_console(
            lambda stdio, extra: self._exec(container_id, exec_id, process, stdio, extra),
            _kill)

    def _with_console(self, spawn: Callable[[Stdio, list[str]], int],
                      undo: Callable[[int], None]) -> tuple[int, int]:
        """Run ``spawn`` with ``--console-socket``; return its pid and the received master.
        The socket lives in the short socket dir: a path under a deep root would not fit."""
        with tempfile.TemporaryDirectory(prefix="console-", dir=sockets.make_dir()) as tmp:
            path = os.path.join(tmp, "console.sock")
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
                listener.bind(path)
                listener.listen(1)
                null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
                try:
                    pid = spawn(Stdio(null, null, null), ["--console-socket", path])
                finally:
                    os.close(null)
                try:
                    listener.settimeout(console.RECEIVE_TIMEOUT)
                    conn, _ = listener.accept()
                    with conn:
                        return pid, console.receive_fd(conn)
                except OSError as err:
                    undo(pid)
                    raise RuntimeFailure(f"{self.name}: no console received: {err}") from err

    def start(self, container_id: str) -> None:
        self._run("start", container_id)

    def kill(self, container_id: str, signal: int) -> None:
        self._run("kill", container_id, str(signal))

    def delete(self, container_id: str) -> None:
        try:
            self._run("delete", "--force", container_id)
        except RuntimeFailure as err:
            if not any(word in err.message for word in _GONE):
                raise

    def _create(self, container_id: str, bundle: Path, stdio: Stdio,
                extra: list[str]) -> int:
        log = bundle / "log.json"
        pid_file = bundle / "init.pid"
        log.unlink(missing_ok=True)
        pid_file.unlink(missing_ok=True)
        argv = [self.binary, "--root", str(self.root), "--log", str(log),
                "--log-format", "json", "create", "--bundle", str(bundle),
                "--pid-file", str(pid_file), *extra, container_id]
        proc = subprocess.run(argv, stdin=stdio.stdin, stdout=stdio.stdout,
                              stderr=stdio.stderr, check=False)
        if proc.returncode != 0:
            raise RuntimeFailure(self._translate(_last_error(log) or
                                 f"{self.name} create exited with status {proc.returncode}"))
        return int(pid_file.read_text())

    def _exec(self, container_id: str, exec_id: str, process: oci.Process, stdio: Stdio,
              extra: list[str]) -> int:
        with tempfile.TemporaryDirectory(prefix=f"exec-{exec_id[:12]}-", dir=self.root) as tmp:
            process_file = os.path.join(tmp, "process.json")
            pid_file = os.path.join(tmp, "exec.pid")
            log = Path(tmp) / "log.json"
            with open(process_file, "w") as f:
                json.dump(process, f)
            # --detach: the runtime exits once the process runs; it is reparented to the
            # caller (the shim, a subreaper), which reaps it.
            argv = [self.binary, "--root", str(self.root), "--log", str(log),
                    "--log-format", "json", "exec", "--process", process_file, "--detach",
                    "--pid-file", pid_file, *extra, container_id]
            proc = subprocess.run(argv, stdin=stdio.stdin, stdout=stdio.stdout,
                                  stderr=stdio.stderr, check=False)
            if proc.returncode != 0:
                raise RuntimeFailure(self._translate(_last_error(log) or
                                     f"{self.name} exec exited with status {proc.returncode}"))
            return int(Path(pid_file).read_text())

    def _run(self, *args: str) -> None:
        argv = [self.binary, "--root", str(self.root), *args]
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              check=False)
        if proc.returncode != 0:
            words = proc.stderr.decode(errors="replace").strip()
            raise RuntimeFailure(self._translate(
                words or f"{self.name} {args[0]} exited with status {proc.returncode}"))

    def _translate(self, message: str) -> str:
        found = _CRUN_NOT_FOUND.search(message)
        if found:
            return f'exec: "{found.group(1)}": executable file not found in $PATH'
        return message


def _last_error(log: Path) -> str | None:
    """The last error-level message of a ``--log-format json`` log (runc and crun)."""
    try:
        text = log.read_text(errors="replace")
    except FileNotFoundError:
        return None
    message = None
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") in ("error", "fatal"):
            message = str(entry.get("msg", ""))
    return message


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
