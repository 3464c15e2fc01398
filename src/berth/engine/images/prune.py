"""``docker image prune [-a]`` (moby ``daemon/images/image_prune.go``): remove dangling
images, or with ``dangling=false`` every image no container uses.

Each candidate goes through the ordinary ``rmi`` rules without force, so an image a
container uses (running or stopped) is a conflict and is skipped, not an error. Garbage is
collected once at the end; the space reclaimed is what that collection freed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from berth.engine import clock
from berth.errors import Conflict, InvalidArgument, NotFound
from berth.oci.reference import parse
from berth.store.metadata.images import ImageRecord, ImageStore

from .delete import DeleteRequest, ImageDeleter, Users
from .filters import boolean, labels_match

Record = tuple[str, str]  # ("Untagged" | "Deleted", value)


@dataclass(frozen=True)
class PruneFilters:
    dangling_only: bool = True
    until: float | None = None  # unix seconds: only images created before
    labels: tuple[str, ...] = ()
    not_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class PruneReport:
    deleted: tuple[Record, ...]
    space_reclaimed: int


def parse_filters(raw: Mapping[str, list[str]]) -> PruneFilters:
    unknown = sorted(set(raw) - {"dangling", "until", "label", "label!"})
    if unknown:
        raise InvalidArgument(f"invalid filter '{unknown[0]}'")
    until = None
    if raw.get("until"):
        try:
            until = min(clock.parse_point(v) for v in raw["until"])
        except ValueError as err:
            raise InvalidArgument(f"invalid filter 'until={raw['until'][0]}'") from err
    dangling = boolean("dangling", raw["dangling"]) if "dangling" in raw else True
    return PruneFilters(dangling_only=dangling, until=until,
                        labels=tuple(raw.get("label", [])),
                        not_labels=tuple(raw.get("label!", [])))


@dataclass(frozen=True)
class ImagePruner:
    store: ImageStore
    labels_of: Callable[[ImageRecord], dict[str, str]]
    collect: Callable[[], int]  # garbage collection, returning the bytes it freed

    def prune(self, filters: PruneFilters, users: Callable[[str], Users]) -> PruneReport:
        deleter = ImageDeleter(self.store, lambda: None)  # one collection, at the end
        deleted: list[Record] = []
        for record in self._candidates(filters):
            refs = [parse(n) for n in self.store.tags_of(record.id)]
            if refs and filters.dangling_only and any(r.tag is not None for r in refs):
                continue
            texts = [r.string() for r in refs] or [record.id.partition(":")[2]]
            for text in texts:
                deleted += self._delete(deleter, record, text, users)
        return PruneReport(tuple(deleted), self.collect())

    def _candidates(self, filters: PruneFilters) -> list[ImageRecord]:
        records = self.store.list_images()
        parents = {r.parent for r in records if r.parent}
        out = []
        for record in records:
            if record.id in parents and (filters.dangling_only
                                         or not self.store.tags_of(record.id)):
                continue  # an intermediate image goes with its child
            if filters.until is not None and _created(record) >= filters.until:
                continue
            labels = self.labels_of(record)
            if filters.labels and not labels_match(filters.labels, labels):
                continue
            if filters.not_labels and any(labels_match([x], labels)
                                          for x in filters.not_labels):
                continue
            out.append(record)
        return out

    def _delete(self, deleter: ImageDeleter, record: ImageRecord, text: str,
                users: Callable[[str], Users]) -> list[Record]:
        if ":" not in text and self.store.get_image(record.id) is None:
            return []
        if ":" in text and self.store.resolve_tag(text) != record.id:
            return []  # gone with an earlier reference of the same image
        request = DeleteRequest(text=_familiar(text), image=record, force=False,
                                users=users(record.id), prune=True, parent_users=users)
        try:
            return deleter.delete(request)
        except (Conflict, NotFound):
            return []


def _familiar(text: str) -> str:
    try:
        return parse(text).familiar() if ":" in text else text
    except InvalidArgument:
        return text


def _created(record: ImageRecord) -> float:
    try:
        return clock.parse(record.created)
    except ValueError:
        return 0.0
