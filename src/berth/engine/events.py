"""The event bus: every lifecycle change is published here and fanned out to subscribers
(``GET /events``) with a bounded history for ``--since``."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

HISTORY = 1024


@dataclass(frozen=True)
class Event:
    type: str  # "container", "image", ...
    action: str  # "create", "start", "die", ...
    actor_id: str
    attributes: tuple[tuple[str, str], ...] = ()
    time_nano: int = field(default_factory=time.time_ns)


class EventBus:
    def __init__(self) -> None:
        self._history: deque[Event] = deque(maxlen=HISTORY)
        self._subscribers: set[asyncio.Queue[Event]] = set()

    def publish(self, event: Event) -> None:
        self._history.append(event)
        for queue in self._subscribers:
            queue.put_nowait(event)

    async def subscribe(self, since_nano: int | None = None) -> AsyncIterator[Event]:
        """Past events newer than ``since_nano`` (if given), then live ones until closed."""
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            if since_nano is not None:
                for past in list(self._history):
                    if past.time_nano >= since_nano:
                        yield past
            while True:
                yield await queue.get()
        finally:
            self._subscribers.discard(queue)
