"""berthd killed (SIGKILL) in the middle of a pull: the next pull fetches no completed blob
again, resumes the interrupted one with a Range request after the bytes it had (hashed
again, so the whole blob is verified), and the image runs. Stale ingests are cleaned at
start-up. The registry side is a counting, throttling proxy (``registry_proxy.py``)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.compat.daemon import BERTH, Daemon
from tests.compat.seed import throttled_upstream
from tests.compat.test_restart import wait_for

BIG = os.urandom(24 << 20)
RATE = 3 << 20  # bytes/s for the big layer: ~8 s in all, killed after a few MiB


def test_a_pull_killed_midway_resumes(fresh_daemon: Daemon, tmp_path: Path) -> None:
    d = fresh_daemon
    with throttled_upstream(d, tmp_path / "registry", "resume/app:1", "resumed\n", BIG,
                            RATE) as (ref, img, proxy):
        base, small, big = img.layers
        blobs = d.data_root / "content/blobs/sha256"
        ingest = d.data_root / "content/ingest"
        partial = ingest / big.digest.split(":")[1]

        pull = subprocess.Popen([BERTH, "-H", d.host, "pull", ref], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: all((blobs / b.digest.split(":")[1]).exists()
                                 for b in (base, small))
                     and partial.exists() and partial.stat().st_size >= 4 << 20,
                     60, "the small layers done and 4 MiB of the big one")
            d.stop(signal.SIGKILL)
        finally:
            pull.wait(30)
            assert pull.stdout is not None
            pull.stdout.close()
        assert pull.returncode != 0
        assert not (blobs / big.digest.split(":")[1]).exists()
        kept = partial.stat().st_size
        assert 0 < kept < big.size

        # leftovers no pull can resume: an anonymous ingest and a download untouched for days
        (ingest / ("tmp-" + "0" * 32)).write_bytes(b"half an import")
        old = ingest / ("ab" * 32)
        old.write_bytes(b"old")
        os.utime(old, (1, 1))
        d.start()
        assert sorted(os.listdir(ingest)) == [partial.name]

        del proxy.faults[big.digest]
        out = d.berth("pull", ref, timeout=120).stdout
        assert "Status: Downloaded newer image for" in out, out
        for blob in (base, small):
            assert len(proxy.gets_of(blob.digest)) == 1, proxy.gets_of(blob.digest)
        first, second = proxy.gets_of(big.digest)
        assert first.range is None and second.range == f"bytes={kept}-"
        assert second.sent == big.size - kept
        assert os.listdir(ingest) == []
        ran = d.berth("run", "--rm", ref, "sh", "-c", "cat /hello.txt; wc -c < /big").stdout
        assert ran.split() == ["resumed", str(len(BIG))]
