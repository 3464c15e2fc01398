"""``OciCliRuntime``: drives any runc-compatible binary (runc, crun, ``berth-runtime``).

The one module that runs such a binary; always argv lists, never a shell::

    <bin> --root R --log B/log.json --log-format json create --bundle B --pid-file B/init.pid ID
          (stdio fds as the child's 0/1/2; they are inherited by the container's init)
    <bin> --root R start ID
    <bin> --root R kill ID SIG
    <bin> --root R delete --force ID

With a terminal the binary allocates the pty itself and hands the master back over
``--console-socket`` (SCM_RIGHTS), so ``create_with_console`` returns it next to the pid.

Errors keep the runtime's words, as docker's CLI maps "executable file not found" to 127;
crun's different wording for that one case is translated to runc's.
"""

from __future__ import annotations

import array
import json
import os
import re
import socket
import subprocess
import tempfile
from pathlib import Path

from berth.errors import RuntimeFailure
from berth.runtime import Stdio

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
        with tempfile.TemporaryDirectory(prefix="console-", dir=self.root) as tmp:
            path = os.path.join(tmp, "console.sock")
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
                listener.bind(path)
                listener.listen(1)
                null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
                try:
                    pid = self._create(container_id, bundle, Stdio(null, null, null),
                                       ["--console-socket", path])
                finally:
                    os.close(null)
                try:
                    return pid, _receive_fd(listener)
                except OSError as err:
                    self.delete(container_id)
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


def _receive_fd(listener: socket.socket) -> int:
    """Accept the runtime's connection on the console socket and take the fd it sends."""
    listener.settimeout(10)
    conn, _ = listener.accept()
    with conn:
        fds = array.array("i")
        _, ancdata, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
        if not fds:
            raise OSError("no fd in console message")
        os.set_inheritable(fds[0], False)
        return fds[0]
