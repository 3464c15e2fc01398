"""Registries as child processes: ``berth-registry serve`` and distribution's binary.

Each gets a free loopback port and is stopped by its own pid (terminate, then kill).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

BERTH_REGISTRY = [sys.executable, "-m", "berth.registry.server.main"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], context: ssl.SSLContext | None = None,
               timeout: float = 20.0) -> None:
    """Poll ``url`` until the server answers at all (any HTTP status counts)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {out}")
        try:
            urllib.request.urlopen(url, timeout=1, context=context).close()
            return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not come up")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextlib.contextmanager
def berth_registry(root: Path, *extra: str, context: ssl.SSLContext | None = None
                   ) -> Iterator[int]:
    """``berth-registry serve --root ROOT`` on a free port; yields the port."""
    port = free_port()
    proc = subprocess.Popen([*BERTH_REGISTRY, "serve", "--addr", f"127.0.0.1:{port}",
                             "--root", str(root), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        scheme = "https" if context else "http"
        wait_ready(f"{scheme}://127.0.0.1:{port}/v2/", proc, context)
        yield port
    finally:
        stop(proc)
        if proc.stdout:
            proc.stdout.close()


@contextlib.contextmanager
def distribution_registry(binary: str, root: Path, config_dir: Path) -> Iterator[int]:
    """The CNCF distribution registry (Debian's ``docker-registry``) on a free port."""
    port = free_port()
    config = config_dir / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {root}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}/v2/", proc)
        yield port
    finally:
        stop(proc)
        if proc.stdout:
            proc.stdout.close()
