"""The conformance suite of ``ImageBackend``: what the image routes rely on that needs no
registry, network or root (lookup, tag, list and its filters, rmi and its conflicts,
history, prune), with docker's errors and messages.

``test_fakes.py`` runs it against ``FakeImageBackend``; ``tests/unit/engine/images/
test_image_backend.py`` against the real ``ImageService`` on a temporary data root (native
snapshotter), whose images come in as ``docker import`` brings them. A subclass provides
``open_images``; each case runs in a loop of its own with a fresh, empty backend.

The users of an image (``remove``'s and ``prune``'s ``users``) are what the routes pass
from ``ContainerBackend.image_users``: (container id, running) pairs, made up here.
"""

from __future__ import annotations

from collections.abc import Awaitable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

import pytest
from tests.unit.api.server.suite import BackendSuite

from berth.api.server.backend import ImageBackend
from berth.engine import clock
from berth.engine.images.delete import Users
from berth.engine.images.filters import ImageFilters
from berth.engine.images.history import MISSING
from berth.engine.images.image import Image
from berth.engine.images.prune import PruneFilters
from berth.errors import Conflict, InvalidArgument, NotFound

CONTAINER = "0d3a" + "0" * 60


def unused(_: str) -> Users:
    return []


def stopped(_: str) -> Users:
    return [(CONTAINER, False)]


def running(_: str) -> Users:
    return [(CONTAINER, True)]


class ImageMaker(Protocol):
    def __call__(self, name: str, labels: dict[str, str] | None = None
                 ) -> Awaitable[Image]:
        """A new image (a new id each call) tagged ``name``, moving the tag if another
        image has it, as an import does."""
        ...


@dataclass(frozen=True)
class Images:
    backend: ImageBackend
    add: ImageMaker


class ImageBackendSuite(BackendSuite[Images]):
    timeout = 10.0

    def open_backends(self) -> AbstractAsyncContextManager[Images]:
        return self.open_images()

    def open_images(self) -> AbstractAsyncContextManager[Images]:
        raise NotImplementedError

    def test_get_by_reference_and_by_id_prefix(self) -> None:
        async def case(i: Images) -> None:
            image = await i.add("test:1", {"a": "1"})
            assert (image.repo_tags, image.repo_digests, image.parent) == (("test:1",), (), "")
            assert image.config["config"]["Labels"] == {"a": "1"}
            hexid = image.id.removeprefix("sha256:")
            for ref in ("test:1", "docker.io/library/test:1", image.id, hexid, hexid[:12],
                        "sha256:" + hexid[:12], hexid[:4]):
                assert await i.backend.get(ref) == image, ref

        self.run(case)

    def test_unknown_images_are_not_found_in_dockers_words(self) -> None:
        async def case(i: Images) -> None:
            await i.add("test:1")
            for ref, shown in (("busybox:nope", "busybox:nope"), ("busybox", "busybox:latest"),
                               ("test", "test:latest"),
                               ("docker.io/library/test:2", "test:2")):
                with pytest.raises(NotFound, match=f"^No such image: {shown}$"):
                    await i.backend.get(ref)
            for call in (i.backend.tag("busybox:nope", "x", "1"),
                         i.backend.remove("busybox:nope", False, unused),
                         i.backend.history("busybox:nope")):
                with pytest.raises(NotFound, match=r"^No such image: busybox:nope$"):
                    await call

        self.run(case)

    def test_invalid_references_are_refused(self) -> None:
        async def case(i: Images) -> None:
            image = await i.add("test:1")
            for ref in ("Bad:Tag", "a b", "sha256:xyz!"):
                with pytest.raises(InvalidArgument, match="invalid reference format"):
                    await i.backend.get(ref)
            with pytest.raises(InvalidArgument, match="invalid reference format"):
                await i.backend.tag(image.id, "Bad", "x")
            with pytest.raises(InvalidArgument, match="invalid reference format"):
                await i.backend.tag(image.id, "mine:2", "x")  # the tag is given apart
            with pytest.raises(InvalidArgument, match="invalid tag format"):
                await i.backend.tag(image.id, "mine", "bad tag")
            assert (await i.backend.get(image.id)).repo_tags == ("test:1",)

        self.run(case)

    def test_tag_adds_names_sorted_by_full_reference(self) -> None:
        async def case(i: Images) -> None:
            image = await i.add("test:1")
            await i.backend.tag("test:1", "localhost:5000/other", "v2")
            await i.backend.tag(image.id[7:19], "mine", "")  # no tag: the repo's, or latest
            await i.backend.tag(image.id, "docker.io/library/mine:2", "")
            await i.backend.tag(image.id, "mine", "2")  # again: no duplicate
            got = await i.backend.get("mine")
            assert got.id == image.id
            assert got.repo_tags == ("mine:2", "mine:latest", "test:1",
                                     "localhost:5000/other:v2")

        self.run(case)

    def test_tagging_onto_an_existing_tag_moves_it(self) -> None:
        async def case(i: Images) -> None:
            old = await i.add("app:1")
            new = await i.add("app:2")
            await i.backend.tag(new.id, "app", "1")
            assert (await i.backend.get("app:1")).id == new.id
            assert (await i.backend.get(new.id)).repo_tags == ("app:1", "app:2")
            assert (await i.backend.get(old.id)).repo_tags == ()  # dangling, still there
            assert [x.id for x in await i.backend.list()] == [new.id, old.id]
            dangling = await i.backend.list(filters=ImageFilters(dangling=True))
            assert [x.id for x in dangling] == [old.id]
            named = await i.backend.list(filters=ImageFilters(dangling=False))
            assert [x.id for x in named] == [new.id]

        self.run(case)

    def test_list_is_newest_first_and_filters_narrow_it(self) -> None:
        async def case(i: Images) -> None:
            assert await i.backend.list() == []
            a = await i.add("a:1", {"k": "x"})
            b = await i.add("b:1", {"k": "y"})
            await i.backend.tag(a.id, "c", "1")

            async def ids(filters: ImageFilters | None = None, all: bool = False
                          ) -> list[str]:
                return [x.id for x in await i.backend.list(all, filters)]

            assert await ids() == await ids(all=True) == [b.id, a.id]
            assert await ids(ImageFilters()) == [b.id, a.id]
            assert await ids(ImageFilters(labels=("k=y",))) == [b.id]
            assert await ids(ImageFilters(labels=("k",))) == [b.id, a.id]
            assert await ids(ImageFilters(before="b:1")) == [a.id]
            assert await ids(ImageFilters(since=a.id[7:19])) == [b.id]
            (only,) = await i.backend.list(filters=ImageFilters(references=("a",)))
            assert (only.id, only.repo_tags) == (a.id, ("a:1",))  # names narrowed too
            assert await ids(ImageFilters(references=("[ab]:*",))) == [b.id, a.id]
            with pytest.raises(NotFound, match=r"^No such image: nosuch:latest$"):
                await i.backend.list(filters=ImageFilters(before="nosuch"))

        self.run(case)

    def test_remove_by_reference_untags_and_deletes_with_the_last(self) -> None:
        async def case(i: Images) -> None:
            image = await i.add("test:1")
            await i.backend.tag(image.id, "other", "2")
            assert await i.backend.remove("test:1", False, unused) == [
                ("Untagged", "test:1")]
            assert (await i.backend.get(image.id)).repo_tags == ("other:2",)
            assert await i.backend.remove("other:2", False, unused) == [
                ("Untagged", "other:2"), ("Deleted", image.id)]
            assert await i.backend.list() == []
            with pytest.raises(NotFound):
                await i.backend.get(image.id)
            with pytest.raises(NotFound, match=r"^No such image: other:2$"):
                await i.backend.remove("other:2", True, unused)

        self.run(case)

    def test_remove_by_id(self) -> None:
        async def case(i: Images) -> None:
            image = await i.add("test:1")
            await i.backend.tag(image.id, "other", "2")
            short = image.id[7:19]
            with pytest.raises(Conflict, match=f"^conflict: unable to delete {short} "
                                               r"\(must be forced\) - image is referenced "
                                               "in multiple repositories$"):
                await i.backend.remove(short, False, unused)
            assert await i.backend.remove(short, True, unused) == [
                ("Untagged", "other:2"), ("Untagged", "test:1"), ("Deleted", image.id)]
            single = await i.add("single:1")
            assert await i.backend.remove(single.id, False, unused) == [
                ("Untagged", "single:1"), ("Deleted", single.id)]
            untagged = await i.add("gone:1")
            await i.backend.tag((await i.add("next:1")).id, "gone", "1")
            assert await i.backend.remove(untagged.id[7:], False, unused) == [
                ("Deleted", untagged.id)]

        self.run(case)

    def test_remove_conflicts_with_the_containers_using_it(self) -> None:
        async def case(i: Images) -> None:
            image = await i.add("test:1")
            short, ctr = image.id[7:19], CONTAINER[:12]
            with pytest.raises(Conflict) as err:
                await i.backend.remove("test:1", False, stopped)
            assert err.value.message == (
                'conflict: unable to remove repository reference "test:1" (must force) - '
                f"container {ctr} is using its referenced image {short}")
            with pytest.raises(Conflict, match=f"unable to delete {short} \\(must be forced\\)"
                                               f" - image is being used by stopped "
                                               f"container {ctr}$"):
                await i.backend.remove(short, False, stopped)
            with pytest.raises(Conflict, match=f"unable to delete {short} \\(cannot be "
                                               "forced\\) - image is being used by running "
                                               f"container {ctr}$"):
                await i.backend.remove(short, True, running)
            # forced, by reference: the tag goes, the image stays for the running container
            assert await i.backend.remove("test:1", True, running) == [
                ("Untagged", "test:1")]
            assert (await i.backend.get(image.id)).repo_tags == ()
            assert await i.backend.remove(short, True, stopped) == [("Deleted", image.id)]

        self.run(case)

    def test_history_names_the_image_on_its_top_row(self) -> None:
        async def case(i: Images) -> None:
            image = await i.add("test:1")
            await i.backend.tag(image.id, "other", "2")
            top, *rest = await i.backend.history("other:2")
            assert (top.id, top.tags) == (image.id, ("other:2", "test:1"))
            assert top.created == int(clock.parse(image.created))
            assert all(row.id == MISSING and row.tags == () for row in rest)

        self.run(case)

    def test_prune_removes_dangling_images_no_container_uses(self) -> None:
        async def case(i: Images) -> None:
            old = await i.add("app:1")
            new = await i.add("app:2")
            await i.backend.tag(new.id, "app", "1")
            report = await i.backend.prune(PruneFilters(), stopped)
            assert report.deleted == ()
            report = await i.backend.prune(PruneFilters(), unused)
            assert report.deleted == (("Deleted", old.id),)
            assert [x.id for x in await i.backend.list()] == [new.id]
            other = await i.add("other:1", {"keep": "1"})
            report = await i.backend.prune(PruneFilters(dangling_only=False,
                                                        not_labels=("keep",)), unused)
            assert set(report.deleted) == {("Untagged", "app:1"), ("Untagged", "app:2"),
                                           ("Deleted", new.id)}
            assert [x.id for x in await i.backend.list()] == [other.id]

        self.run(case)
