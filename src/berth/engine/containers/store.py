"""The containers the daemon knows: an in-memory index over the persisted records.

Lookups accept what docker accepts: a full id, a unique id prefix, or a name (with or
without its leading slash). Every change is written through to SQLite before it is
visible here, so a crash never leaves memory ahead of disk.
"""

from __future__ import annotations

import asyncio
import dataclasses

from berth.engine.containers.model import Container
from berth.errors import Conflict, InvalidArgument, NotFound
from berth.store.metadata.containers import ContainerRecords


class ContainerStore:
    def __init__(self, records: ContainerRecords) -> None:
        self._records = records
        self._by_id: dict[str, Container] = {}

    def load(self) -> list[Container]:
        for document in self._records.all():
            c = Container.from_json(document)
            self._by_id[c.id] = c
        return list(self._by_id.values())

    def get(self, ref: str) -> Container:
        if not ref:
            raise InvalidArgument("container name or ID cannot be empty")
        if ref in self._by_id:
            return self._by_id[ref]
        name = ref.lstrip("/")
        for c in self._by_id.values():
            if c.name == name:
                return c
        matches = [c for c in self._by_id.values() if c.id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")

    def name_owner(self, name: str) -> Container | None:
        return next((c for c in self._by_id.values() if c.name == name), None)

    def all(self) -> list[Container]:
        return list(self._by_id.values())

    async def insert(self, c: Container) -> None:
        owner = self.name_owner(c.name)
        if owner is not None:
            raise _name_conflict(c.name, owner.id)
        try:
            await asyncio.to_thread(self._records.insert, c.id, c.name, c.to_json())
        except Conflict as err:
            raise _name_conflict(c.name, "") from err
        self._by_id[c.id] = c

    async def save(self, c: Container) -> Container:
        if c.id not in self._by_id:
            raise NotFound(f"No such container: {c.id}")
        await asyncio.to_thread(self._records.update, c.id, c.name, c.to_json())
        self._by_id[c.id] = c
        return c

    async def rename(self, c: Container, name: str) -> Container:
        owner = self.name_owner(name)
        if owner is not None:
            raise _name_conflict(name, owner.id)
        try:
            return await self.save(dataclasses.replace(c, name=name))
        except Conflict as err:  # the UNIQUE name column: a create won the race
            raise _name_conflict(name, "") from err

    def hold(self, c: Container) -> Container:
        """Update the in-memory view only, for a state that is never worth a disk write:
        a container about to be deleted (the deletion itself is the commit point)."""
        if c.id not in self._by_id:
            raise NotFound(f"No such container: {c.id}")
        self._by_id[c.id] = c
        return c

    async def delete(self, container_id: str) -> None:
        await asyncio.to_thread(self._records.delete, container_id)
        self._by_id.pop(container_id, None)


def _name_conflict(name: str, owner: str) -> Conflict:
    return Conflict(
        f'Conflict. The container name "/{name}" is already in use by container "{owner}". '
        "You have to remove (or rename) that container to be able to reuse that name.")
