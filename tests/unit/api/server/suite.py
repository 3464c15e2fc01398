"""What every backend conformance suite shares (backend_suite.py, network_backend_suite.py,
volume_backend_suite.py, image_backend_suite.py): a subclass says how to open the backends
under test (the API's fakes, or the real engine in tests/integration/engine), and each
case runs against fresh ones, with a timeout, in its own event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Generic, TypeVar

B = TypeVar("B")


class BackendSuite(Generic[B]):
    timeout = 60.0  # seconds a case may take

    def open_backends(self) -> AbstractAsyncContextManager[B]:
        raise NotImplementedError

    def run(self, case: Callable[[B], Awaitable[None]]) -> None:
        async def main() -> None:
            async with self.open_backends() as backends:
                await asyncio.wait_for(case(backends), self.timeout)

        asyncio.run(main())
