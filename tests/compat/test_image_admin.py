"""``image history``, ``image prune`` and ``export``: a pulled three-layer image with an
empty-layer history entry, whiteouts and an opaque directory; imported images; dangling
and unused images pruned while a container keeps its image."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from berth.oci.image import MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_LAYER, MEDIA_TYPE_OCI_MANIFEST
from berth.oci.reference import parse_named
from berth.registry.client import Descriptor, RegistrySession, push
from tests.compat.daemon import Daemon, inspect, registry_server
from tests.compat.test_pull_push import _Blobs
from tests.tarballs import tar_of

CREATED = "2024-05-01T10:00:00Z"


def _seed(daemon: Daemon, registry: str, repo_tag: str) -> None:
    """busybox + a layer (hello.txt, data/a.txt; bin/vi whited out) + a layer making
    data/ opaque (data/b.txt), with an ENV entry (no layer) between them."""
    blobs = _Blobs(daemon.data_root / "content")
    busybox = inspect(daemon, "busybox")
    config = json.loads(blobs.open(str(busybox["Id"])).read())
    base = config["rootfs"]["diff_ids"][0]
    base_size = (daemon.data_root / "content/blobs/sha256" / base.split(":")[1]).stat().st_size
    second = tar_of({"hello.txt": b"hello\n", "data/a.txt": b"a\n", "bin/.wh.vi": b""})
    third = tar_of({"data/.wh..wh..opq": b"", "data/b.txt": b"b\n"})
    layers = [{"mediaType": MEDIA_TYPE_OCI_LAYER, "digest": base, "size": base_size}]
    for data in (second, third):
        layers.append({"mediaType": MEDIA_TYPE_OCI_LAYER, "digest": blobs.add(data),
                       "size": len(data)})
    config["rootfs"]["diff_ids"] = [x["digest"] for x in layers]
    config["history"] = [*config.get("history", []),
                         {"created": CREATED, "created_by": "/bin/sh -c #(nop) ADD hello"},
                         {"created": CREATED, "created_by": "/bin/sh -c #(nop)  ENV A=1",
                          "empty_layer": True},
                         {"created": CREATED, "created_by": "layer three",
                          "comment": "third"}]
    config_bytes = json.dumps(config).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MEDIA_TYPE_OCI_MANIFEST,
        "config": {"mediaType": MEDIA_TYPE_OCI_CONFIG, "digest": blobs.add(config_bytes),
                   "size": len(config_bytes)},
        "layers": layers}).encode()
    desc = Descriptor(MEDIA_TYPE_OCI_MANIFEST, blobs.add(manifest), len(manifest))

    async def go() -> None:
        async with RegistrySession() as session:
            await push(session, parse_named(f"{registry}/{repo_tag}"), desc, blobs)

    asyncio.run(go())


@pytest.fixture(scope="module")
def layered(daemon: Daemon, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with registry_server(tmp_path_factory.mktemp("registry")) as registry:
        image = f"{registry}/admin/layered:1"
        _seed(daemon, registry, "admin/layered:1")
        daemon.berth("pull", image, timeout=120)
        try:
            yield image
        finally:
            daemon.berth("rm", "-f", "exporttest", check=False)
            daemon.berth("rmi", "-f", image, check=False)


def test_history_of_a_pulled_image(daemon: Daemon, layered: str) -> None:
    image_id = str(inspect(daemon, layered)["Id"])
    lines = daemon.berth("image", "history", "--no-trunc", "--format",
                         "{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}", layered
                         ).stdout.splitlines()
    assert len(lines) == 4
    top, env, add, base = (line.split("|") for line in lines)
    assert top[0] == image_id and top[1] == "layer three" and top[3] == "third"
    assert top[2] != "0B"
    assert env == ["<missing>", "/bin/sh -c #(nop)  ENV A=1", "0B", ""]
    assert add[0] == "<missing>" and add[2] != "0B"
    assert base[0] == "<missing>" and base[1].startswith("berth bootstrap")
    table = daemon.berth("history", layered).stdout.splitlines()
    assert table[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert table[1].startswith(image_id.split(":")[1][:12] + " ")
    assert daemon.berth("image", "history", "-q", layered).stdout.split() == \
        [image_id.split(":")[1][:12], "<missing>", "<missing>", "<missing>"]
    raw = daemon.berth("image", "history", "-H=false", layered).stdout.splitlines()
    assert raw[0].split()[:3] == ["IMAGE", "CREATED", "AT"]
    assert "2024-05-01T" in raw[2] and " 0 " in raw[2]
    client = docker.APIClient(base_url=daemon.host, version="1.45", timeout=60)
    try:
        rows = client.history(layered)
    finally:
        client.close()
    assert [set(r) for r in rows] == [{"Id", "Created", "CreatedBy", "Tags", "Size",
                                       "Comment"}] * 4
    assert rows[0]["Tags"] == [layered] and rows[1]["Tags"] is None
    assert rows[1]["Created"] == 1714557600 and rows[1]["Size"] == 0


def test_history_of_an_imported_image(daemon: Daemon, tmp_path: Path) -> None:
    tar = tmp_path / "root.tar"
    tar.write_bytes(tar_of({"file.txt": b"imported\n"}))
    name = "historytest/imported:1"
    daemon.berth("import", "--change", "ENV A=1", "-m", "from a test", str(tar), name)
    try:
        rows = daemon.berth("image", "history", "--format",
                            "{{.CreatedBy}}|{{.Comment}}|{{.Size}}", name).stdout.splitlines()
        assert len(rows) == 1
        created_by, comment, size = rows[0].split("|")
        assert created_by == "berth import" and comment == "from a test" and size != "0B"
    finally:
        daemon.berth("rmi", name, check=False)


def test_export_merges_layers_and_changes(daemon: Daemon, layered: str,
                                          tmp_path: Path) -> None:
    daemon.berth("run", "--name", "exporttest", layered, "sh", "-c",
                 "echo new > /new.txt; rm /hello.txt; echo changed > /data/b.txt")
    out = tmp_path / "rootfs.tar"
    daemon.berth("export", "-o", str(out), "exporttest")
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
        read = {n: tar.extractfile(n).read() for n in ("new.txt", "data/b.txt")}  # type: ignore[union-attr]
    assert read == {"new.txt": b"new\n", "data/b.txt": b"changed\n"}
    assert {"bin/busybox", "bin/sh", "etc/passwd", "data"} <= names
    assert not names & {"hello.txt", "bin/vi", "data/a.txt"}, names & {"hello.txt", "bin/vi"}
    assert not any(".wh." in n for n in names)
    piped = subprocess.run(["docker", "-H", daemon.host, "export", "exporttest"],
                           capture_output=True, timeout=60, check=True,
                           env={**os.environ, "DOCKER_CONFIG": str(daemon.root / "dc")})
    with tarfile.open(fileobj=io.BytesIO(piped.stdout)) as tar:  # docker's CLI, to stdout
        assert set(tar.getnames()) == names


@pytest.fixture
def pruning(fresh_daemon: Daemon, tmp_path: Path) -> Daemon:
    for n in (1, 2):
        tar = tmp_path / f"{n}.tar"
        tar.write_bytes(tar_of({"n.txt": f"{n}\n".encode()}))
        fresh_daemon.berth("import", str(tar), "prunetest/a:1")
    return fresh_daemon


def test_image_prune_dangling_then_all(pruning: Daemon) -> None:
    d = pruning
    ids = d.berth("images", "-aq", "--no-trunc").stdout.split()
    dangling = d.berth("images", "-q", "--no-trunc", "--filter", "dangling=true").stdout
    assert len(ids) == 3 and len(dangling.split()) == 1
    declined = d.berth("image", "prune", input="n\n").stdout
    assert declined.startswith("WARNING! This will remove all dangling images.")
    assert d.berth("images", "-aq", "--no-trunc").stdout.split() == ids
    out = d.berth("image", "prune", "-f").stdout
    assert out.startswith(f"Deleted Images:\ndeleted: {dangling.strip()}\n\n"), out
    assert "Total reclaimed space: " in out and "Total reclaimed space: 0B" not in out
    d.berth("create", "--name", "user", "busybox", "true")
    tagged = str(inspect(d, "prunetest/a:1")["Id"])
    out = d.docker("image", "prune", "-a", "-f").stdout  # docker's CLI reads our answer
    assert out.startswith(f"Deleted Images:\nuntagged: prunetest/a:1\ndeleted: {tagged}\n")
    assert d.berth("images", "--format", "{{.Repository}}").stdout == "busybox\n"
    assert d.berth("image", "prune", "-af").stdout == "Total reclaimed space: 0B\n"


def test_images_filters_and_digests(daemon: Daemon, layered: str, tmp_path: Path) -> None:
    tar = tmp_path / "root.tar"
    tar.write_bytes(tar_of({"file.txt": b"labelled\n"}))
    daemon.berth("import", "--change", "LABEL team=infra", str(tar), "filtertest/l:1")
    try:
        repo = layered.rpartition(":")[0]
        digest = str(inspect(daemon, layered)["RepoDigests"][0]).partition("@")[2]
        rows = daemon.berth("images", "--digests", "--format",
                            "{{.Repository}} {{.Tag}} {{.Digest}}", repo).stdout
        assert rows == f"{repo} 1 {digest}\n"
        table = daemon.berth("images", "--digests", repo).stdout.splitlines()
        assert table[0].split() == ["REPOSITORY", "TAG", "DIGEST", "IMAGE", "ID", "CREATED",
                                    "SIZE"]
        by_glob = daemon.berth("images", "--format", "{{.Repository}}:{{.Tag}}",
                               "--filter", "reference=*/admin/*").stdout
        assert by_glob == f"{layered}\n"
        labelled = daemon.berth("images", "-q", "--no-trunc", "--filter",
                                "label=team=infra").stdout
        assert labelled == f"{inspect(daemon, 'filtertest/l:1')['Id']}\n"
        assert daemon.berth("images", "-q", "--filter", "label=team=other").stdout == ""
        named = daemon.berth("images", "--filter", "dangling=false", "--format",
                             "{{.Repository}}").stdout.split()
        assert "<none>" not in named and "filtertest/l" in named
        bad = daemon.berth("images", "--filter", "colour=red", check=False)
        assert bad.returncode == 1 and "invalid filter 'colour'" in bad.stderr
    finally:
        daemon.berth("rmi", "filtertest/l:1", check=False)
