"""The berth CLI's incremental build context against berthd: a rebuild sends only what
changed, and the image is what a full upload builds (checked by running it)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from berth.cli.buildcontext import file_entry
from berth.client import Client
from berth.errors import Conflict
from berth.formats.contextsync import BASE_GONE, MANIFEST_ENTRY
from tests.compat.daemon import Daemon
from tests.tarballs import entry, make_tar
from tests.trees import write_tree

DOCKERFILE = b"""FROM busybox
COPY data/ /data/
RUN ls -l /data | awk '{print $1, $5, $9}' > /listing && md5sum /data/* > /sums
CMD ["cat", "/listing", "/sums"]
"""


def _sent(output: str) -> str:
    found = re.search(r"Sending build context to Berth daemon\s+(\S+)", output)
    assert found, output
    return found.group(1)


def _build(daemon: Daemon, ctx: Path, tag: str) -> tuple[str, str]:
    out = daemon.berth("build", "-t", tag, str(ctx)).stdout
    image = daemon.berth("inspect", "-f", "{{.Id}}", tag).stdout.strip()
    return out, image


def _run(daemon: Daemon, tag: str) -> str:
    return daemon.berth("run", "--rm", tag).stdout


def test_a_rebuild_sends_only_changes(daemon: Daemon, tags: list[str], tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    write_tree(ctx, {"Dockerfile": DOCKERFILE, ".dockerignore": b"data/skip*\n",
                     **{f"data/f{i}.bin": os.urandom(200_000) for i in range(5)},
                     "data/skip.log": b"excluded\n"})
    tags.append("berth-incr:1")
    out, first = _build(daemon, ctx, "berth-incr:1")
    assert _sent(out).endswith("MB"), out  # nothing kept yet: the whole context
    out, again = _build(daemon, ctx, "berth-incr:1")
    assert again == first and out.count("Using cache") == 3, out
    assert _sent(out).endswith("kB") and float(_sent(out)[:-2]) < 10, out

    (ctx / "data/f1.bin").write_bytes(b"changed\n")
    (ctx / "data/f2.bin").unlink()
    (ctx / "data/f3.bin").chmod(0o600)
    (ctx / "data/new.txt").write_bytes(b"new\n")
    (ctx / "data/skip2.log").write_bytes(b"excluded too\n")
    out, changed = _build(daemon, ctx, "berth-incr:1")
    assert changed != first and " ---> Using cache" not in out.split("COPY")[1], out
    sent = _sent(out)
    assert sent.endswith("kB") and float(sent[:-2]) < 250, out  # f3 (chmod) + small files

    # the same tree uploaded whole (a copy elsewhere: another key, nothing kept) and by
    # the docker CLI build the very same image
    whole = tmp_path / "whole"
    shutil.copytree(ctx, whole)
    tags.append("berth-incr:2")
    out, full = _build(daemon, whole, "berth-incr:2")
    assert _sent(out) == "609.3kB" and full == changed, out  # f0, f3, f4 and the rest
    listing = _run(daemon, "berth-incr:1")
    assert "-rw------- 200000 f3.bin" in listing and "f2.bin" not in listing
    assert "skip" not in listing and " 4 new.txt" in listing and " 8 f1.bin" in listing
    tags.append("berth-incr:3")
    daemon.docker("build", "-q", "-t", "berth-incr:3", str(ctx))
    assert daemon.berth("inspect", "-f", "{{.Id}}", "berth-incr:3").stdout.strip() == changed


def test_a_base_that_is_gone_is_a_conflict_before_any_output(daemon: Daemon) -> None:
    listed = {"key": "test:/nowhere", "base": "context-0000",
              "files": [["Dockerfile", 13, "sig", True]]}
    preamble = json.dumps(listed).encode()
    body = file_entry(MANIFEST_ENTRY, preamble) + make_tar(entry("x", data=b"x"))
    api = Client(daemon.host).api
    with pytest.raises(Conflict, match=re.escape(BASE_GONE)):
        api.request("POST", "/build", {}, body, {"Content-Type": "application/x-tar"})
    answer = api.json("POST", "/build/context", None,
                      {"key": "test:/nowhere", "files": [["Dockerfile", 13, "sig"]]})
    assert answer == {"base": "", "reuse": []}
