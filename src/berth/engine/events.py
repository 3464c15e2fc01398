"""The event bus: every lifecycle change is published here and fanned out to subscribers
(``GET /events``) with a bounded history, so ``--since`` can replay recent events.

Delivery never blocks a publisher: each subscriber has its own unbounded queue and a slow
reader only grows its own backlog (docker drops nothing either).
"""

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
    action: str  # "create", "start", "die", "exec_start: sh", "health_status: healthy", ...
    actor_id: str
    attributes: tuple[tuple[str, str], ...] = ()
    time_nano: int = field(default_factory=time.time_ns)


@dataclass(frozen=True)
class EventFilter:
    """docker's ``events --filter``: values of one key are alternatives (OR), keys AND."""

    types: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()
    actors: frozenset[str] = frozenset()  # id, id prefix or name
    images: frozenset[str] = frozenset()
    labels: frozenset[str] = frozenset()  # "k" or "k=v"

    def matches(self, ev: Event) -> bool:
        attrs = dict(ev.attributes)
        action = ev.action.split(":", 1)[0]
        if self.types and ev.type not in self.types:
            return False
        if self.actions and ev.action not in self.actions and action not in self.actions:
            return False
        if self.actors and not any(ev.actor_id.startswith(a) or attrs.get("name") == a
                                   for a in self.actors):
            return False
        if self.images and attrs.get("image") not in self.images:
            return False
        return not self.labels or all(_label_matches(label, attrs) for label in self.labels)


def _label_matches(label: str, attrs: dict[str, str]) -> bool:
    key, eq, value = label.partition("=")
    return key in attrs and (not eq or attrs[key] == value)


class EventBus:
    def __init__(self) -> None:
        self._history: deque[Event] = deque(maxlen=HISTORY)
        self._subscribers: set[asyncio.Queue[Event]] = set()

    def publish(self, event: Event) -> None:
        self._history.append(event)
        for queue in self._subscribers:
            queue.put_nowait(event)

    async def subscribe(self, since_nano: int | None = None, until_nano: int | None = None,
                        flt: EventFilter | None = None) -> AsyncIterator[Event]:
        """Past events from ``since_nano`` on, then live ones; ends at ``until_nano``."""
        flt = flt or EventFilter()
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            if since_nano is not None:
                for past in list(self._history):
                    if past.time_nano >= since_nano and (
                            until_nano is None or past.time_nano <= until_nano):
                        if flt.matches(past):
                            yield past
            while until_nano is None or time.time_ns() < until_nano:
                timeout = None if until_nano is None else (until_nano - time.time_ns()) / 1e9
                try:
                    ev = await asyncio.wait_for(queue.get(), timeout)
                except TimeoutError:
                    return
                if (until_nano is None or ev.time_nano <= until_nano) and flt.matches(ev):
                    yield ev
        finally:
            self._subscribers.discard(queue)
