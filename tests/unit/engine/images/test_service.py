import asyncio
import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest
from tests.tarballs import entry, make_tar

from berth.engine.images import ImageService
from berth.errors import Conflict, InvalidArgument, NotFound
from berth.oci.reference import parse
from berth.store.metadata.db import Database
from berth.store.snapshots.native import NativeSnapshotter

BUSYBOX = Path("/bin/busybox")
needs_busybox = pytest.mark.skipif(not BUSYBOX.exists(), reason="needs /bin/busybox")


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def service(tmp_path):
    db = Database(tmp_path / "metadata.db")
    return ImageService(tmp_path, db, NativeSnapshotter(tmp_path / "snapshots"))


async def chunks(data: bytes, size: int = 1000):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def rootfs_tar() -> bytes:
    return make_tar(entry("bin", tarfile.DIRTYPE, mode=0o755),
                    entry("bin/hello", data=b"#!/bin/sh\necho hi\n", mode=0o755),
                    entry("etc/os-release", data=b"ID=test\n"))


def import_(service, data=None, tag="test:1", changes=(), message=""):
    return run(service.import_image(chunks(data or rootfs_tar()), tag, list(changes), message))


def test_import_makes_one_layer_image(service, tmp_path):
    image = import_(service, gzip.compress(rootfs_tar()), changes=["CMD [\"/bin/hello\"]"],
                    message="imported")
    assert image.id.startswith("sha256:") and image.repo_tags == ("test:1",)
    assert image.config["config"]["Cmd"] == ["/bin/hello"]
    assert image.comment == "imported"
    assert len(image.config["rootfs"]["diff_ids"]) == 1
    assert image.chain_id == image.config["rootfs"]["diff_ids"][0]
    # the image ID is the digest of the stored config bytes
    config_path = tmp_path / "content/blobs/sha256" / image.id[7:]
    assert config_path.exists()
    mounts = run(service.prepare_rootfs(image.id, "ctr1"))
    rootfs = Path(mounts[0].source)
    assert (rootfs / "bin/hello").read_bytes().startswith(b"#!/bin/sh")


def test_import_rejects_bad_change_before_reading(service):
    with pytest.raises(InvalidArgument, match="RUN is not a valid change command"):
        import_(service, changes=["RUN rm -rf /"])


def test_import_garbage_leaves_nothing(service, tmp_path):
    with pytest.raises(InvalidArgument):
        import_(service, b"\x1f\x8b this is not gzip")
    assert run(service.list()) == []
    assert os.listdir(tmp_path / "content/blobs/sha256") == []
    assert os.listdir(tmp_path / "content/ingest") == []


def test_get_by_name_id_and_prefix(service):
    image = import_(service)
    hexid = image.id[7:]
    for ref in ("test:1", "docker.io/library/test:1", image.id, hexid, hexid[:12], hexid[:4]):
        assert run(service.get(ref)).id == image.id
    with pytest.raises(NotFound, match=r"^No such image: test:latest$"):
        run(service.get("test"))
    with pytest.raises(NotFound, match="No such image: busybox:latest"):
        run(service.get("busybox"))


def test_tag_list_and_untag(service):
    image = import_(service)
    run(service.tag("test:1", "localhost:5000/other", "v2"))
    run(service.tag(image.id[7:19], "mine", ""))
    assert set(run(service.get(image.id)).repo_tags) == {
        "test:1", "localhost:5000/other:v2", "mine:latest"}
    with pytest.raises(InvalidArgument):
        run(service.tag("test:1", "Bad", "x"))
    records = run(service.remove("mine", False, lambda _: []))
    assert records == [("Untagged", "mine:latest")]
    assert [i.id for i in run(service.list())] == [image.id]


def test_remove_deletes_image_layers_and_blobs(service, tmp_path):
    image = import_(service)
    records = run(service.remove("test:1", False, lambda _: []))
    assert records == [("Untagged", "test:1"), ("Deleted", image.id)]
    assert run(service.list()) == []
    assert os.listdir(tmp_path / "content/blobs/sha256") == []
    assert os.listdir(tmp_path / "snapshots/snapshots") == []


def test_remove_conflicts_use_dockers_words(service):
    image = import_(service)
    short = image.id[7:19]
    stopped = lambda _: [("0d3a" + "0" * 60, False)]  # noqa: E731
    running = lambda _: [("0d3a" + "0" * 60, True)]  # noqa: E731
    with pytest.raises(Conflict) as err:
        run(service.remove("test:1", False, stopped))
    assert err.value.message == (
        'conflict: unable to remove repository reference "test:1" (must force) - '
        f"container 0d3a00000000 is using its referenced image {short}")
    with pytest.raises(Conflict, match=f"unable to delete {short} \\(must be forced\\) - "
                                       "image is being used by stopped container 0d3a"):
        run(service.remove(short, False, stopped))
    with pytest.raises(Conflict, match=r"cannot be forced.*running container 0d3a00000000"):
        run(service.remove(short, True, running))
    run(service.tag("test:1", "other", "x"))
    with pytest.raises(Conflict, match="referenced in multiple repositories"):
        run(service.remove(short, False, lambda _: []))
    records = run(service.remove(short, True, lambda _: []))
    assert ("Deleted", image.id) in records and len(records) == 3


def test_forced_untag_of_image_a_running_container_uses_leaves_it_dangling(service):
    image = import_(service)
    records = run(service.remove("test:1", True, lambda _: [("c" * 64, True)]))
    assert records == [("Untagged", "test:1")]
    assert run(service.get(image.id)).repo_tags == ()


def test_forced_rmi_deletes_image_of_stopped_container_but_keeps_its_layer(service):
    image = import_(service)
    run(service.prepare_rootfs(image.id, "stopped-ctr"))
    records = run(service.remove("test:1", True, lambda _: [("c" * 64, False)]))
    assert records == [("Untagged", "test:1"), ("Deleted", image.id)]
    assert run(service.rootfs_mounts("stopped-ctr"))
    assert service.layer(image.chain_id) is not None and service.snapshot_mounts(image.chain_id)


def test_layers_are_shared_between_images(service, tmp_path):
    a = import_(service, tag="a:1")
    b = import_(service, tag="b:1", changes=["ENV X=1"])
    assert a.id != b.id and a.chain_id == b.chain_id
    run(service.remove("a:1", False, lambda _: []))
    assert run(service.prepare_rootfs(b.id, "c"))  # layer still there


def step(service, parent, n, tag=""):
    """An image a build step made on ``parent`` (same layer, its own config)."""
    base = run(service.get(parent))
    config = {**base.config, "created": f"2024-01-{n:02}T00:00:00Z"}
    return service.create_image(config, [], [service.layer(base.chain_id)],
                                       [parse(tag)] if tag else [], parent=base.id)


def test_remove_prunes_the_untagged_parent_chain_up_to_a_tagged_image(service):
    base = import_(service)
    a = step(service, "test:1", 1)
    b = step(service, a.id, 2)
    c = step(service, b.id, 3, tag="app:1")
    records = run(service.remove("app:1", False, lambda _: []))
    assert records == [("Untagged", "app:1"), ("Deleted", c.id), ("Deleted", b.id),
                       ("Deleted", a.id)]
    assert [i.id for i in run(service.list(all=True))] == [base.id]


def test_remove_noprune_keeps_the_parents(service):
    import_(service)
    a = step(service, "test:1", 1)
    b = step(service, a.id, 2, tag="app:1")
    records = run(service.remove("app:1", False, lambda _: [], prune=False))
    assert records == [("Untagged", "app:1"), ("Deleted", b.id)]
    assert run(service.get(a.id)).id == a.id


def test_parent_pruning_stops_at_another_child_or_a_container(service):
    import_(service)
    a = step(service, "test:1", 1)
    b = step(service, a.id, 2)
    c = step(service, b.id, 3, tag="app:1")
    other = step(service, a.id, 4, tag="other:1")  # a has another child
    records = run(service.remove(c.id[7:], False, lambda _: []))
    assert records == [("Untagged", "app:1"), ("Deleted", c.id), ("Deleted", b.id)]
    used = {a.id: [("c" * 64, False)]}  # a stopped container of a: a stays, quietly
    records = run(service.remove("other:1", False, lambda i: used.get(i, [])))
    assert records == [("Untagged", "other:1"), ("Deleted", other.id)]
    assert run(service.get(a.id)).id == a.id


def test_rootfs_lifecycle(service):
    import_(service)
    mounts = run(service.prepare_rootfs("test:1", "ctr"))
    assert run(service.rootfs_mounts("ctr")) == mounts
    assert run(service.rootfs_usage("ctr")) > 0
    run(service.remove_rootfs("ctr"))
    run(service.remove_rootfs("ctr"))
    with pytest.raises(NotFound):
        run(service.rootfs_mounts("ctr"))


@needs_busybox
def test_bootstrap_busybox_is_deterministic(service, tmp_path):
    image = run(service.bootstrap("busybox"))
    again = run(service.bootstrap("busybox:latest"))
    assert image.id == again.id
    assert image.repo_tags == ("busybox:latest",)
    assert image.config["config"] == {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["sh"]}
    assert image.config["os"] == "linux" and image.config["architecture"]
    assert image.config["history"]
    other = ImageService(tmp_path / "second", Database(tmp_path / "second.db"),
                         NativeSnapshotter(tmp_path / "second-sn"))
    assert run(other.bootstrap("busybox")).id == image.id
    root = Path(run(service.prepare_rootfs(image.id, "c"))[0].source)
    assert os.readlink(root / "bin/sh") == "/bin/busybox"
    assert (root / "bin/busybox").stat().st_size == BUSYBOX.stat().st_size
    passwd = (root / "etc/passwd").read_text().splitlines()
    assert passwd[0] == "root:x:0:0:root:/root:/bin/sh"
    assert passwd[-1] == "nobody:x:65534:65534:nobody:/home:/bin/false"
    # the official image's users: none with uid 1000, left to a Dockerfile's own user
    assert [line.split(":")[2] for line in passwd] == ["0", "1", "2", "3", "4", "8", "33",
                                                       "37", "65534"]
    group = (root / "etc/group").read_text().splitlines()
    assert "wheel:x:10:root" in group and group[-1] == "nogroup:x:65534:"
    assert not any(line.split(":")[2] == "1000" for line in group)
    assert (root / "var/www").is_dir()
    if os.geteuid() == 0:  # only root's unpacking keeps the owners
        assert (root / "var/www").stat().st_uid == 33
    assert oct((root / "tmp").stat().st_mode & 0o7777) == "0o1777"
    assert oct((root / "root").stat().st_mode & 0o7777) == "0o700"
    for d in ("proc", "sys", "dev", "home", "var", "usr/bin", "sbin"):
        assert (root / d).is_dir()
    assert (root / "usr/bin/env").is_symlink()


@needs_busybox
def test_bootstrap_other_tag_and_unsupported(service):
    assert run(service.bootstrap("busybox:x")).repo_tags == ("busybox:x",)
    with pytest.raises(InvalidArgument, match="supported images are busybox, debian"):
        run(service.bootstrap("alpine"))


def test_changes_do_not_read_the_stream(service):
    async def never():
        raise AssertionError("read")
        yield b""
    with pytest.raises(InvalidArgument):
        run(service.import_image(never(), "x", ["NOPE"], ""))
    with pytest.raises(InvalidArgument):
        run(service.import_image(never(), "Bad:Tag", [], ""))


def test_tar_is_streamed_in_chunks(service):
    data = make_tar(entry("big", data=os.urandom(3 << 20)))
    image = import_(service, data)
    root = Path(run(service.prepare_rootfs(image.id, "c"))[0].source)
    assert (root / "big").stat().st_size == 3 << 20
    assert io.BytesIO(data).getbuffer().nbytes == len(data)
