"""``pull -a`` / ``push -a`` and the bare ``push NAME`` (``:latest`` only), with berth's CLI
and docker's against berthd: the same lines, the same errors."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest

from tests.compat.daemon import Daemon, registry_server
from tests.compat.seed import hello_layer, make_image, push_image

_LAYER_LINE = re.compile(r"^[0-9a-f]{12}: ")


def _tags(registry: str, repo: str) -> list[str]:
    with urllib.request.urlopen(f"http://{registry}/v2/{repo}/tags/list", timeout=10) as r:
        return sorted(json.load(r)["tags"])


def _summary(out: str) -> list[str]:
    """What a pull printed but its per-layer lines (whose order the downloads decide)."""
    return [line for line in out.splitlines() if not _LAYER_LINE.match(line)]


@pytest.mark.parametrize("cli", ["berth", "docker"])
def test_pull_all_tags(daemon: Daemon, tmp_path: Path, cli: str) -> None:
    d = daemon
    with registry_server(tmp_path / "registry") as registry:
        for tag in ("1", "2"):
            push_image(registry, f"alltags/app:{tag}", make_image(d, [hello_layer(tag + "\n")]))
        repo = f"{registry}/alltags/app"
        run = d.berth if cli == "berth" else d.docker
        try:
            out = run("pull", "-a", repo).stdout
            assert _summary(out) == [
                "1: Pulling from alltags/app", f"Digest: {_digest(d, repo + ':1')}",
                "2: Pulling from alltags/app", f"Digest: {_digest(d, repo + ':2')}",
                f"Status: Downloaded newer image for {repo}", repo], out
            for tag in ("1", "2"):
                ran = d.berth("run", "--rm", f"{repo}:{tag}", "cat", "/hello.txt").stdout
                assert ran == tag + "\n"
            again = run("pull", "--all-tags", repo).stdout
            assert f"Status: Image is up to date for {repo}" in again, again

            bad = run("pull", "-a", f"{repo}:1", check=False)
            assert bad.returncode != 0
            assert "tag can't be used with --all-tags/-a" in bad.stderr
        finally:
            d.berth("rmi", "-f", f"{repo}:1", f"{repo}:2", check=False)


def _digest(d: Daemon, ref: str) -> str:
    out = d.berth("image", "inspect", "-f", "{{json .RepoDigests}}", ref).stdout
    return str(json.loads(out)[0]).split("@")[1]


@pytest.mark.parametrize("cli", ["berth", "docker"])
def test_push_all_tags_and_bare_name(daemon: Daemon, tmp_path: Path, cli: str) -> None:
    d = daemon
    run = d.berth if cli == "berth" else d.docker
    with registry_server(tmp_path / "registry") as registry:
        repo = f"{registry}/pushall/app"
        d.berth("tag", "busybox", f"{repo}:a")
        d.berth("tag", "busybox", f"{repo}:b")
        try:
            # no tag and no :latest: docker v28 pushes only :latest, which is not there
            bare = run("push", repo, check=False)
            assert bare.returncode != 0
            assert bare.stdout.splitlines()[0] == "Using default tag: latest"
            assert f"tag does not exist: {repo}:latest" in bare.stderr, bare.stderr

            out = run("push", "-a", repo).stdout
            assert f"The push refers to repository [{repo}]" in out, out
            assert re.search(r"^a: digest: sha256:[0-9a-f]{64} size: \d+$", out, re.M), out
            assert re.search(r"^b: digest: sha256:[0-9a-f]{64} size: \d+$", out, re.M), out
            assert _tags(registry, "pushall/app") == ["a", "b"]

            bad = run("push", "-a", f"{repo}:a", check=False)
            assert bad.returncode != 0
            assert "tag can't be used with --all-tags/-a" in bad.stderr

            d.berth("tag", "busybox", f"{repo}:latest")
            latest = run("push", repo).stdout
            assert "latest: digest: sha256:" in latest and "a: digest" not in latest, latest
            assert _tags(registry, "pushall/app") == ["a", "b", "latest"]
        finally:
            d.berth("rmi", f"{repo}:a", f"{repo}:b", f"{repo}:latest", check=False)
