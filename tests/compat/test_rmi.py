"""``rmi`` of a built image takes its untagged parent chain (the build's intermediate
images) with it, as dockerd does, unless ``--no-prune``; through the docker CLI (classic
builder) and docker-py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker
import pytest

from tests.compat.daemon import Daemon, inspect
from tests.trees import write_tree


def _all_images(daemon: Daemon) -> set[str]:
    return set(daemon.docker("images", "-a", "-q", "--no-trunc").stdout.split())


def _build(daemon: Daemon, ctx: Path, tag: str, marker: str) -> list[str]:
    """Build ``tag`` (three steps on busybox); its ID and its intermediate images' IDs,
    child first."""
    write_tree(ctx, {"Dockerfile": f"FROM busybox\nENV MARK={marker}\n"
                                   f"RUN echo {marker} > /mark\nLABEL mark={marker}\n"})
    daemon.docker("build", "-t", tag, str(ctx))
    chain = [str(inspect(daemon, tag)["Id"])]
    busybox = inspect(daemon, "busybox")["Id"]
    while True:
        parent: Any = inspect(daemon, chain[-1])["Parent"]
        if not parent or parent == busybox:
            return chain
        chain.append(parent)


@pytest.fixture(autouse=True)
def _classic_builder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_BUILDKIT", "0")


def test_rmi_of_a_built_image_leaves_no_dangling_parents(
        daemon: Daemon, tags: list[str], tmp_path: Path) -> None:
    before = _all_images(daemon)
    tags.append("rmiprune:1")
    chain = _build(daemon, tmp_path, "rmiprune:1", "cli-prune")
    assert len(chain) == 3 and _all_images(daemon) - before == set(chain)
    done = daemon.docker("rmi", "rmiprune:1")
    assert done.stdout.splitlines() == ["Untagged: rmiprune:1",
                                        *(f"Deleted: {i}" for i in chain)]
    assert _all_images(daemon) == before  # nothing new, dangling or not


def test_rmi_no_prune_keeps_the_parents(daemon: Daemon, tags: list[str],
                                        tmp_path: Path) -> None:
    before = _all_images(daemon)
    tags.append("rmiprune:2")
    chain = _build(daemon, tmp_path, "rmiprune:2", "cli-noprune")
    try:
        done = daemon.docker("rmi", "--no-prune", "rmiprune:2")
        assert done.stdout.splitlines() == ["Untagged: rmiprune:2", f"Deleted: {chain[0]}"]
        assert _all_images(daemon) - before == set(chain[1:])
    finally:
        daemon.docker("rmi", chain[1], check=False)  # the rest of the chain goes with it
    assert _all_images(daemon) == before


def test_docker_py_remove_lists_each_pruned_parent(daemon: Daemon, tags: list[str],
                                                   tmp_path: Path) -> None:
    before = _all_images(daemon)
    tags.extend(["rmiprune:3", "rmiprune:keep"])
    chain = _build(daemon, tmp_path, "rmiprune:3", "py-prune")
    daemon.docker("tag", chain[2], "rmiprune:keep")  # pruning stops at a tagged parent
    client = docker.APIClient(base_url=daemon.host, version="1.45", timeout=60)
    try:
        records = client.remove_image("rmiprune:3")
        assert records == [{"Untagged": "rmiprune:3"}, {"Deleted": chain[0]},
                           {"Deleted": chain[1]}]
        assert _all_images(daemon) - before == {chain[2]}
        client.remove_image("rmiprune:keep")
    finally:
        client.close()
    assert _all_images(daemon) == before
