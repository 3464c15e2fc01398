"""The default bridge outlives a data root: a berthd over a fresh data root whose bridge
device already exists (left by an earlier data root) takes that bridge's address, as
dockerd takes an existing docker0's, instead of picking a new subnet and adding a second
address to the same device (which, run after run, filled it with every default pool).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from tests.integration.engine import harness
from tests.integration.engine.harness import BRIDGE

from berth.engine.networks import model
from berth.engine.networks.model import IpamPool
from berth.net import links

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root, bridges, iptables"),
]


def test_a_fresh_data_root_reuses_the_existing_bridges_address(root: Path) -> None:
    async def main() -> tuple[IpamPool, IpamPool]:
        async with harness.engine(root / "first", networking=True, keep=True) as first:
            pool = first.networks.get(model.BRIDGE).pools[0]
        async with harness.engine(root / "second", networking=True, keep=True) as second:
            return pool, second.networks.get(model.BRIDGE).pools[0]

    first, second = asyncio.run(asyncio.wait_for(main(), 60))
    assert second == first
    # pyroute2's IPRoute runs its own loop: asked outside the test's
    assert [str(a) for a in links.bridge_addresses(BRIDGE)] == [
        f"{first.gateway}/{first.subnet.split('/')[1]}"]
