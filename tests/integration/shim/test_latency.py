"""How long from ShimManager.create to the container's first output byte (run with -s).

Not a pass/fail benchmark: it reports medians so regressions are visible, and fails only
if a start takes absurdly long."""

from __future__ import annotations

import asyncio
import statistics
import time

import pytest

pytestmark = pytest.mark.root

ROUNDS = 20


def test_create_to_first_byte(harness) -> None:
    async def once(manager, args: list[str]) -> tuple[float, float]:
        opts = harness.options(args, log=False)
        began = time.perf_counter()
        shim = await manager.create(opts)
        reader, _ = await shim.attach(stdin=False, stdout=True, stderr=True)
        await shim.start()
        await reader.readexactly(9)  # one frame header + the first byte
        first = time.perf_counter() - began
        await shim.wait()
        await shim.close()
        return first, time.perf_counter() - began

    async def scenario() -> tuple[list[float], list[float]]:
        manager = await harness.manager()
        try:
            await once(manager, ["echo", "x"])  # warm the page cache and the runtime binary
            firsts, exits = [], []
            for _ in range(ROUNDS):
                first, _ = await once(manager, ["echo", "x"])
                firsts.append(first)
            for _ in range(ROUNDS):
                opts = harness.options(["true"], log=False)
                began = time.perf_counter()
                shim = await manager.create(opts)
                await shim.start()
                await shim.wait()
                exits.append(time.perf_counter() - began)
            return firsts, exits
        finally:
            await manager.close()

    firsts, exits = asyncio.run(scenario())
    first_ms = statistics.median(firsts) * 1000
    exit_ms = statistics.median(exits) * 1000
    print(f"\n[{harness.runtime}] median of {ROUNDS}: create→first byte (echo x) "
          f"{first_ms:.1f} ms; create→exit status (true) {exit_ms:.1f} ms")
    assert first_ms < 5000
