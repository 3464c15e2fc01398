"""What a build sees of its context, and how it reports, as docker's classic builder
(``DOCKER_BUILDKIT=0``) shows it, through the docker CLI, docker-py and the berth CLI.
The expected trees are what dockerd 20.10 builds from the same contexts and clients."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.compat.daemon import Daemon
from tests.trees import write_tree

COPY_ALL = "FROM busybox\nCOPY . /ctx/\n"


@pytest.fixture(autouse=True)
def classic_builder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_BUILDKIT", "0")


def _build(daemon: Daemon, api: docker.APIClient, client: str, ctx: Path, tag: str,
           dockerfile: Path | None = None) -> None:
    flags = ["-f", str(dockerfile)] if dockerfile is not None else []
    if client == "docker-py":
        kw: dict[str, Any] = {"dockerfile": str(dockerfile)} if dockerfile else {}
        errors = [m for m in api.build(path=str(ctx), tag=tag, rm=True, decode=True, **kw)
                  if "error" in m]
        assert errors == []
    elif client == "berth":
        daemon.berth("build", "-q", "-t", tag, *flags, str(ctx), timeout=120)
    else:  # the docker CLI, "docker --compress" with the context gzipped
        compress = ["--compress"] if client.endswith("--compress") else []
        daemon.docker("build", "-q", *compress, "-t", tag, *flags, str(ctx), timeout=120)


def _ls_ctx(daemon: Daemon, image: str) -> list[str]:
    return daemon.docker("run", "--rm", image, "ls", "-A", "/ctx").stdout.split()


@pytest.mark.parametrize("client", ["docker", "docker-py", "berth"])
@pytest.mark.parametrize(("ignore", "seen"), [
    (".dockerignore\nDockerfile\nsecret\n", ["kept"]),
    ("Dockerfile\n", [".dockerignore", "kept", "secret"]),
    ("*\n!kept\n", ["kept"]),
])
def test_an_excluded_dockerfile_and_dockerignore_are_read_but_not_copied(
        daemon: Daemon, api: docker.APIClient, tags: list[str], tmp_path: Path,
        client: str, ignore: str, seen: list[str]) -> None:
    ctx = write_tree(tmp_path / "ctx", {"Dockerfile": COPY_ALL, ".dockerignore": ignore,
                                        "secret": "s\n", "kept": "k\n"})
    tags.append("ctx-ignore:1")
    _build(daemon, api, client, ctx, "ctx-ignore:1")
    assert _ls_ctx(daemon, "ctx-ignore:1") == seen


@pytest.mark.parametrize("client", ["docker", "docker --compress", "docker-py", "berth"])
@pytest.mark.parametrize(("files", "seen"), [
    ({}, ["kept"]),
    ({".dockerignore": "secret\n", "secret": "s\n"}, [".dockerignore", "kept"]),
])
def test_a_dockerfile_from_outside_the_context_leaves_no_trace(
        daemon: Daemon, api: docker.APIClient, tags: list[str], tmp_path: Path,
        client: str, files: dict[str, str], seen: list[str]) -> None:
    ctx = write_tree(tmp_path / "ctx", {"kept": "k\n", **files})
    elsewhere = write_tree(tmp_path / "elsewhere", {"Dockerfile": COPY_ALL})
    tags.append("ctx-outside:1")
    _build(daemon, api, client, ctx, "ctx-outside:1", elsewhere / "Dockerfile")
    assert _ls_ctx(daemon, "ctx-outside:1") == seen  # no .dockerfile.<hex>


def test_run_stderr_is_red_in_the_stream_and_stdout_plain(
        daemon: Daemon, api: docker.APIClient, tags: list[str], tmp_path: Path) -> None:
    ctx = write_tree(tmp_path, {"Dockerfile": "FROM busybox\n"
                                              "RUN echo out; sleep 0.2; echo err >&2\n"})
    tags.append("ctx-stderr:1")
    streams = [m["stream"] for m in api.build(path=str(ctx), tag="ctx-stderr:1", rm=True,
                                                decode=True)
               if "stream" in m]
    assert "out\n" in streams
    assert "\x1b[91merr\n\x1b[0m" in streams
    shown = daemon.docker("build", "--no-cache", str(ctx), timeout=120).stdout
    assert "\nout\n" in shown and "\x1b[91merr\n\x1b[0m" in shown
    assert daemon.docker("ps", "-aq").stdout == ""


def test_cache_from_makes_the_listed_images_the_only_cache_sources(
        daemon: Daemon, api: docker.APIClient, tags: list[str], tmp_path: Path) -> None:
    # a step of its own first, so no other test's cached steps can match
    token = secrets.token_hex(6)
    ctx = write_tree(tmp_path, {"Dockerfile": f"FROM busybox\nENV A={token}\n"
                                              "RUN echo built > /f\nCOPY data /data\n",
                                "data": "d\n"})
    tags.extend(["ctx-cf:1", "ctx-cf:2", "ctx-cf:3"])

    def build(tag: str, *flags: str) -> tuple[int, str]:
        out = daemon.docker("build", "-t", tag, *flags, str(ctx), timeout=120).stdout
        image = daemon.docker("image", "inspect", "-f", "{{.Id}}", tag).stdout.strip()
        return out.count(" ---> Using cache\n"), image

    hits, first = build("ctx-cf:1")
    assert hits == 0
    hits, unrelated = build("ctx-cf:2", "--cache-from", "busybox")
    assert hits == 0 and unrelated != first  # the local images were not used
    # the newest match of every step is now ctx-cf:2's, outside the sources
    assert build("ctx-cf:1", "--cache-from", "ctx-cf:1") == (3, first)
    assert build("ctx-cf:3", "--cache-from", "nope:none")[0] == 0  # no source: no hits

    def api_hits(**kw: Any) -> tuple[int, str | None]:
        text, image = "", None
        for m in api.build(path=str(ctx), rm=True, decode=True, **kw):
            text += m.get("stream", "")
            image = m.get("aux", {}).get("ID", image)
        return text.count(" ---> Using cache\n"), image

    assert api_hits(cache_from=["ctx-cf:1"]) == (3, first)
    assert api_hits(cache_from=["ctx-cf:2", "busybox"]) == (3, unrelated)
    assert api_hits()[0] == 3  # no --cache-from: every local image, as before
