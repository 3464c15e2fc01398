"""A pull's lease: the blobs a killed pull had finished survive an ``image prune -a`` (and
an ``rmi``) before the retry, which fetches none of them again; once the image is recorded
the lease is gone and the blobs are collected with the image."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.compat.daemon import BERTH, Daemon
from tests.compat.seed import throttled_upstream
from tests.compat.test_restart import wait_for

BIG = os.urandom(12 << 20)
RATE = 2 << 20  # bytes/s for the big layer: killed after 2 MiB of it


def test_gc_between_a_killed_pull_and_its_retry_keeps_fetched_blobs(
        fresh_daemon: Daemon, tmp_path: Path) -> None:
    d = fresh_daemon
    with throttled_upstream(d, tmp_path / "registry", "lease/app:1", "leased\n", BIG,
                            RATE) as (ref, img, proxy):
        base, small, big = img.layers
        blobs = d.data_root / "content/blobs/sha256"
        partial = d.data_root / "content/ingest" / big.digest.split(":")[1]

        def have(digest: str) -> bool:
            return (blobs / digest.split(":")[1]).exists()

        pull = subprocess.Popen([BERTH, "-H", d.host, "pull", ref], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: have(base.digest) and have(small.digest) and partial.exists()
                     and partial.stat().st_size >= 2 << 20, 60, "two layers and 2 MiB of the third")
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
