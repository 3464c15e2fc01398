"""A pull's lease: the blobs a killed pull had finished survive an ``image prune -a`` (and
an ``rmi``) before the retry, which fetches none of them again; once the image is recorded
the lease is gone and the blobs are collected with the image."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from berth.oci import image
from tests.compat.daemon import BERTH, Daemon, registry_server
from tests.compat.registry_proxy import Fault, registry_proxy
from tests.compat.seed import Layer, hello_layer, make_image, push_image, tar_of

BIG = os.urandom(12 << 20)
RATE = 2 << 20  # bytes/s for the big layer: killed after 2 MiB of it


def _wait_for(condition: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_gc_between_a_killed_pull_and_its_retry_keeps_fetched_blobs(
        fresh_daemon: Daemon, tmp_path: Path) -> None:
    d = fresh_daemon
    with registry_server(tmp_path / "registry") as upstream, \
            registry_proxy(upstream) as (address, proxy):
        img = make_image(d, [hello_layer("leased\n"),
                             Layer(tar_of({"big": BIG}), image.MEDIA_TYPE_OCI_LAYER)])
        push_image(upstream, "lease/app:1", img)
        ref = f"{address}/lease/app:1"
        base, small, big = img.layers
        blobs = d.data_root / "content/blobs/sha256"
        partial = d.data_root / "content/ingest" / big.digest.split(":")[1]
        proxy.faults[big.digest] = Fault("throttle", rate=RATE)

        def have(digest: str) -> bool:
            return (blobs / digest.split(":")[1]).exists()

        pull = subprocess.Popen([BERTH, "-H", d.host, "pull", ref], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            _wait_for(lambda: have(base.digest) and have(small.digest) and partial.exists()
                      and partial.stat().st_size >= 2 << 20, "two layers and 2 MiB of the third")
            d.stop(signal.SIGKILL)
        finally:
            pull.wait(30)
        d.start()

        # garbage collection runs: nothing references the fetched blobs but the lease
        d.berth("image", "prune", "-a", "-f")
        assert have(base.digest) and have(small.digest)

        del proxy.faults[big.digest]
        out = d.berth("pull", ref, timeout=120).stdout
        assert "Status: Downloaded newer image for" in out, out
        for blob in (base, small):
            assert len(proxy.gets_of(blob.digest)) == 1, proxy.gets_of(blob.digest)
        assert d.berth("run", "--rm", ref, "cat", "/hello.txt").stdout == "leased\n"

        # the image is recorded: the lease is released, rmi collects the blobs
        d.berth("rmi", ref)
        assert not any(have(b.digest) for b in (base, small, big))
