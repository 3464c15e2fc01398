"""Leases: what they hold, renewal replacing the held set, release and expiry."""

from __future__ import annotations

from pathlib import Path

from berth.store.metadata.db import Database
from berth.store.metadata.leases import Leases


def test_take_release_and_expire(tmp_path: Path) -> None:
    leases = Leases(Database(tmp_path / "meta.db"))
    leases.take("r/a:1", ["sha256:a", "sha256:b"])
    leases.take("r/c:1", ["sha256:b", "sha256:c"])
    assert leases.held() == {"sha256:a", "sha256:b", "sha256:c"}
    leases.take("r/a:1", ["sha256:d"])  # a retry renews the lease with what it needs now
    assert leases.held() == {"sha256:b", "sha256:c", "sha256:d"}
    leases.release("r/c:1")
    assert leases.held() == {"sha256:d"}
    leases.take("r/old:1", ["sha256:e"], ttl=-1)  # already expired
    assert leases.held() == {"sha256:d"}
    assert leases.leases() == ["r/a:1"]
