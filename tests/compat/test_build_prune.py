"""``docker builder prune`` (the real docker CLI) and ``berth builder prune`` against
berthd: the kept contexts and RUN cache mount directories go, and the next build sends
its whole context again and builds the same image."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path

from tests.compat.daemon import Daemon
from tests.trees import write_tree

UNITS = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}


def _sent(output: str) -> str:
    found = re.search(r"Sending build context to Berth daemon\s+(\S+)", output)
    assert found, output
    return found.group(1)


def _build(daemon: Daemon, ctx: Path, tag: str, *flags: str) -> tuple[str, str]:
    out = daemon.berth("build", "-t", tag, *flags, str(ctx), timeout=300).stdout
    return _sent(out), daemon.berth("inspect", "-f", "{{.Id}}", tag).stdout.strip()


def _report(output: str) -> tuple[list[str], float]:
    """The IDs and bytes of a prune's output, checked to be docker's layout."""
    found = re.fullmatch(r"(?:Deleted build cache objects:\n((?:\S+\n)+)\n)?"
                         r"Total reclaimed space: ([\d.]+)(B|kB|MB|GB)\n", output)
    assert found, output
    return (found.group(1) or "").split(), float(found.group(2)) * UNITS[found.group(3)]


def test_builder_prune_removes_kept_contexts_and_cache_mounts(
        daemon: Daemon, tags: list[str], tmp_path: Path) -> None:
    cache_id = "berth-prune-" + secrets.token_hex(4)
    ctx = write_tree(tmp_path / "ctx", {
        "Dockerfile": f"FROM busybox\nCOPY data/ /data/\n"
                      f"RUN --mount=type=cache,target=/c,id={cache_id} touch /c/x\n",
        "data/blob.bin": os.urandom(300_000)})
    build = daemon.data_root / "build"
    cache = build / "cache" / hashlib.sha256(cache_id.encode()).hexdigest()
    tags.append("berth-prune:1")
    whole, image = _build(daemon, ctx, "berth-prune:1")
    changes, again = _build(daemon, ctx, "berth-prune:1")
    assert again == image and whole.endswith("kB") and changes.endswith("kB")
    assert float(changes[:-2]) < 10 < 300 < float(whole[:-2])
    kept = sorted(p.name for p in build.glob("kept-*"))
    assert len(kept) >= 2 and (cache / "x").is_file()

    deleted, reclaimed = _report(daemon.berth("builder", "prune", "-f").stdout)
    assert set(kept) | {cache.name} <= set(deleted)
    assert reclaimed >= 300_000  # the blob both kept contexts link, counted once
    assert not list(build.glob("kept-*")) and not cache.exists()
    assert sorted(p.name for p in build.iterdir()) == ["cache"]

    # the next build has nothing to start from: the whole context again, the same image
    sent, rebuilt = _build(daemon, ctx, "berth-prune:1")
    assert rebuilt == image and sent == whole
    _build(daemon, ctx, "berth-prune:1", "--no-cache")  # its RUN makes the cache dir again
    kept = sorted(p.name for p in build.glob("kept-*"))
    assert kept and cache.is_dir()

    # filters: none of it is a day old; an unknown key is refused as dockerd refuses it
    assert daemon.docker("builder", "prune", "-f", "--filter", "until=24h").stdout == \
        "Total reclaimed space: 0B\n"
    refused = daemon.docker("builder", "prune", "-f", "--filter", "dangling=true", check=False)
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[-1] == \
        "Error response from daemon: invalid filter 'dangling'"  # after the legacy builder note

    deleted, reclaimed = _report(daemon.docker("builder", "prune", "-af").stdout)
    assert set(kept) | {cache.name} <= set(deleted) and reclaimed >= 300_000
    assert sorted(p.name for p in build.iterdir()) == ["cache"]
    for cli in (daemon.docker, daemon.berth):  # nothing left
        assert cli("builder", "prune", "-f").stdout == "Total reclaimed space: 0B\n"
