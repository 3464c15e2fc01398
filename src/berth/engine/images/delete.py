"""``docker rmi``: which references to drop, when to delete, and the conflicts, in moby's
words (``daemon/images/image_delete.go``).

  * by reference (``busybox``): untag it; if other references remain, that is all. Without
    force, the last reference of an image a container uses is kept (must force).
  * by ID (``6d3e``): an image referenced in several repositories must be forced; then every
    reference goes and the image is deleted, unless a running container uses it (cannot be
    forced) or, without force, a stopped one does (must be forced).
  * then, unless ``noprune``, the parent chain (a build's intermediate images): each parent
    with no reference, no other child and no container goes too, quietly stopping at the
    first that has one (moby's ``imageDeleteHelper`` pruning with ``quiet``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from berth.errors import Conflict
from berth.oci.reference import Reference, parse
from berth.store.metadata.images import ImageRecord, ImageStore

Users = list[tuple[str, bool]]  # (container id, running)


def truncate_id(ident: str) -> str:
    return ident.partition(":")[2][:12] if ":" in ident else ident[:12]


def is_id_prefix(image_id: str, text: str) -> bool:
    return image_id.startswith(text) or image_id.partition(":")[2].startswith(text)


def _single_repository(refs: list[Reference]) -> bool:
    """One tag at most, and every reference in that one repository (moby's
    ``isSingleReference``)."""
    tagged = [r for r in refs if r.digest is None]
    if not refs or len(tagged) > 1:
        return False
    names = {r.name for r in refs}
    return len(names) == 1


@dataclass(frozen=True)
class DeleteRequest:
    text: str  # what the user typed
    image: ImageRecord
    force: bool
    users: Users
    prune: bool = False  # docker's noprune=0: the untagged parent chain goes too
    parent_users: Callable[[str], Users] = lambda _: []  # asked up front, from a table


class ImageDeleter:
    def __init__(self, store: ImageStore, collect: Callable[[], object]) -> None:
        self.store = store
        self.collect = collect

    def _refs(self, image_id: str) -> list[Reference]:
        return [parse(name) for name in self.store.tags_of(image_id)]

    def _untag(self, ref: Reference, records: list[tuple[str, str]]) -> None:
        self.store.remove_tag(ref.string())
        records.append(("Untagged", ref.familiar()))

    def delete(self, req: DeleteRequest) -> list[tuple[str, str]]:
        image_id = req.image.id
        records: list[tuple[str, str]] = []
        refs = self._refs(image_id)
        if not is_id_prefix(image_id, req.text):
            self._check_reference_removal(req, refs)
            ref = parse(req.text).with_default_tag()
            self._untag(ref, records)
            remaining = self._refs(image_id)
            if ref.digest is None and not any(r.name == ref.name and r.digest is None
                                              for r in remaining):
                for other in [r for r in remaining if r.name == ref.name]:
                    self._untag(other, records)
            if self._refs(image_id):
                return records
            try:
                self._check_delete(req)
            except Conflict:
                return records  # the image stays, dangling, for the containers using it
        elif len(refs) > 1 and not _single_repository(refs) and not req.force:
            raise self._conflict(image_id, "image is referenced in multiple repositories",
                                 hard=False)
        self._check_delete(req)
        for ref in self._refs(image_id):
            self._untag(ref, records)
        self.store.delete_image(image_id)
        records.append(("Deleted", image_id))
        if req.prune:
            self._prune_parents(req.image.parent, req.parent_users, records)
        self.collect()
        return records

    def _prune_parents(self, parent_id: str, users: Callable[[str], Users],
                       records: list[tuple[str, str]]) -> None:
        """Delete the parent chain up to the first parent that is referenced, has another
        child or is used by a container; that one and those above it stay, silently."""
        while parent_id:
            parent = self.store.get_image(parent_id)
            if (parent is None or self.store.tags_of(parent_id)
                    or self.store.children(parent_id) or users(parent_id)):
                return
            self.store.delete_image(parent_id)
            records.append(("Deleted", parent_id))
            parent_id = parent.parent

    def _check_reference_removal(self, req: DeleteRequest, refs: list[Reference]) -> None:
        if req.force or not req.users or not _single_repository(refs):
            return
        container = truncate_id(req.users[0][0])
        raise Conflict(
            f'conflict: unable to remove repository reference "{req.text}" (must force) - '
            f"container {container} is using its referenced image {truncate_id(req.image.id)}"
        )

    def _check_delete(self, req: DeleteRequest) -> None:
        image_id = req.image.id
        if self.store.children(image_id):
            raise self._conflict(image_id, "image has dependent child images", hard=True)
        running = [c for c, is_running in req.users if is_running]
        if running:
            raise self._conflict(
                image_id, f"image is being used by running container {truncate_id(running[0])}",
                hard=True)
        if req.users and not req.force:
            raise self._conflict(
                image_id,
                f"image is being used by stopped container {truncate_id(req.users[0][0])}",
                hard=False)

    @staticmethod
    def _conflict(image_id: str, message: str, hard: bool) -> Conflict:
        force = "cannot be forced" if hard else "must be forced"
        return Conflict(f"conflict: unable to delete {truncate_id(image_id)} ({force}) - "
                        f"{message}")
