"""``RUN --mount`` and build secrets end to end through ``berth build``: what the RUN
sees is checked from inside it (it writes what it saw into the image), what must not be
in the image is checked by running it and by scanning every layer of ``berth save``."""

from __future__ import annotations

import gzip
import hashlib
import io
import secrets
import tarfile
import time
from pathlib import Path

import pytest

from tests.compat.daemon import Daemon
from tests.trees import write_tree


def _context(root: Path, dockerfile: str, files: dict[str, str] | None = None) -> Path:
    return write_tree(root, {"Dockerfile": dockerfile, **(files or {})})


def _build(daemon: Daemon, ctx: Path, tag: str, *flags: str, check: bool = True,
           ) -> tuple[int, str, str]:
    done = daemon.berth("build", "-t", tag, *flags, str(ctx), check=check, timeout=300)
    return done.returncode, done.stdout, done.stderr


def _run(daemon: Daemon, image: str, script: str) -> str:
    return daemon.berth("run", "--rm", image, "sh", "-c", script, timeout=120).stdout


def _leftovers(daemon: Daemon, wait: float = 10) -> list[str]:
    """Per-build directories still under the daemon's build dir (contexts, secrets,
    mount scratch dirs): none once a build is over, whatever its outcome. Secrets go
    before the answer; the context and scratch trees right after it (the client does not
    wait for their unlinking), hence the short wait."""
    build = daemon.data_root / "build"
    deadline = time.monotonic() + wait
    while True:
        left = sorted(p.name for p in build.iterdir()  # kept-: the berth CLI's next build
                      if p.name != "cache" and not p.name.startswith("kept-")) \
            if build.exists() else []
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def _host_mounts(daemon: Daemon) -> list[str]:
    return daemon.mounts()


def test_cache_mount_persists_across_builds_and_keys_the_cache(
        daemon: Daemon, tags: list[str], tmp_path: Path) -> None:
    cache_id = "berth-test-" + secrets.token_hex(4)
    script = "cat /cache/log > /seen 2>/dev/null; echo run >> /cache/log; ls -ld /cache"
    ctx = _context(tmp_path / "ctx", f"FROM busybox\n"
                   f"RUN --mount=type=cache,target=/cache,id={cache_id},mode=0750 {script}\n")
    tags.append("berth-mount-cache:1")
    _, first, _ = _build(daemon, ctx, "berth-mount-cache:1")
    assert "drwxr-x---" in first  # mode= applies to a new cache
    assert _run(daemon, "berth-mount-cache:1", "cat /seen; test -e /cache || echo gone") \
        == "gone\n"  # the first build's RUN found an empty cache; no /cache in the layer
    _, second, _ = _build(daemon, ctx, "berth-mount-cache:1", "--no-cache")
    assert "Using cache" not in second
    assert _run(daemon, "berth-mount-cache:1", "cat /seen") == "run\n"
    _, third, _ = _build(daemon, ctx, "berth-mount-cache:1")
    assert "Using cache" in third  # same flags: a cache hit, whatever the cache dir holds
    history = daemon.berth("image", "history", "--no-trunc", "berth-mount-cache:1").stdout
    assert f"--mount=type=cache,target=/cache,id={cache_id},mode=750 /bin/sh -c" in history
    (ctx / "Dockerfile").write_text(
        f"FROM busybox\nRUN --mount=type=cache,target=/cache,id={cache_id},mode=0750,"
        f"sharing=locked {script}\n")
    _, fourth, _ = _build(daemon, ctx, "berth-mount-cache:1")
    assert "Using cache" not in fourth  # the mount flags are part of the key
    assert _run(daemon, "berth-mount-cache:1", "cat /seen") == "run\nrun\n"
    assert _leftovers(daemon) == []


def test_bind_from_context_and_stage_and_tmpfs(daemon: Daemon, tags: list[str],
                                               tmp_path: Path) -> None:
    seeded = "berth-test-" + secrets.token_hex(4)
    dockerfile = """FROM busybox AS tools
RUN mkdir -p /out && echo built > /out/artifact
FROM busybox
WORKDIR /app
RUN --mount=type=bind,source=src,target=/src cat /src/hello.txt > /from-context
RUN --mount=type=bind,from=tools,source=/out,target=/tools cat /tools/artifact > /from-stage
RUN --mount=from=tools,target=/t cat /t/out/artifact /t/etc/passwd | head -1 > /whole-stage
RUN --mount=type=bind,target=ctx,rw sh -c 'echo scribble > ctx/src/hello.txt; \
    cat ctx/src/hello.txt > /rw-saw'
RUN --mount=type=bind,target=/ro sh -c 'touch /ro/x 2>/dev/null && echo writable > /ro || \
    echo readonly > /ro-result'
RUN --mount=type=tmpfs,target=/scratch,size=1m sh -c 'ls -A /scratch | wc -l > /tmpfs-count; \
    echo x > /scratch/file; grep " /scratch " /proc/mounts > /tmpfs-mount'
RUN --mount=type=cache,target=/seeded,id=SEEDED,from=tools,source=/out \
    cat /seeded/artifact > /cache-seeded
RUN --mount=type=bind,source=src/hello.txt,target=/etc/hello.txt,rw \
    sh -c 'echo changed >> /etc/hello.txt; cat /etc/hello.txt > /file-bind'
COPY src/hello.txt /copied.txt
""".replace("SEEDED", seeded)
    ctx = _context(tmp_path / "ctx", dockerfile, {"src/hello.txt": "hello from context\n"})
    tags.append("berth-mount-bind:1")
    _build(daemon, ctx, "berth-mount-bind:1")
    out = _run(daemon, "berth-mount-bind:1",
               "cat /from-context /from-stage /whole-stage /rw-saw /ro-result /copied.txt "
               "/tmpfs-count /tmpfs-mount /cache-seeded /file-bind; "
               "for p in /src /tools /t /app/ctx /ro /scratch /seeded /etc/hello.txt; do "
               "test -e $p && echo left $p; done; ls -A /app | wc -l")
    lines = out.splitlines()
    assert lines[:7] == ["hello from context", "built", "built", "scribble", "readonly",
                         "hello from context",  # the rw bind's write was discarded
                         "0"]  # the tmpfs started empty
    assert lines[7].startswith("tmpfs /scratch tmpfs ") and "size=1024k" in lines[7]
    assert lines[8:11] == ["built",  # a new cache filled from= a stage
                           "hello from context", "changed"]  # an rw file bind, a copy
    assert lines[11:] == ["0"]  # no mount point left, even under WORKDIR


def test_a_mount_points_parent_swapped_for_a_link_reaches_nothing_on_the_host(
        daemon: Daemon, tags: list[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A RUN moves its mount targets' parent away and links a host directory in its
    place, one that holds an empty directory and an empty file of the mount points'
    names: dropping the mount points from the step's layer must not remove those."""
    monkeypatch.setenv("DOCKER_BUILDKIT", "0")
    host = tmp_path / "host"
    (host / "d").mkdir(parents=True)
    (host / "f").touch()
    ctx = _context(tmp_path / "ctx", "FROM busybox\n"
                   "RUN --mount=type=tmpfs,target=/p/d --mount=type=bind,source=f,target=/p/f "
                   f"sh -c 'mv /p /p.moved && ln -s {host} /p'\n", {"f": "context file\n"})
    tags.append("berth-mount-link:1")
    daemon.docker("build", "-t", "berth-mount-link:1", str(ctx), timeout=300)
    assert (host / "d").is_dir() and (host / "f").is_file()
    assert _run(daemon, "berth-mount-link:1", "readlink /p") == f"{host}\n"


def test_secret_is_seen_by_run_and_in_no_layer(daemon: Daemon, tags: list[str],
                                               tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    marker = "berth-secret-" + secrets.token_hex(16)
    env_marker = "berth-env-secret-" + secrets.token_hex(16)
    secret_file = tmp_path / "token.txt"
    secret_file.write_text(marker + "\n")
    monkeypatch.setenv("BERTH_TEST_SECRET", env_marker)
    # The Dockerfile never names the secrets' content (it is in the image and history):
    # the RUNs record their digests.
    dockerfile = """FROM busybox
RUN --mount=type=secret,id=tok sha256sum /run/secrets/tok | cut -c1-64 > /seen && \
    stat -c '%a %u %g' /run/secrets/tok > /secret-stat && \
    (echo leak > /run/secrets/tok 2>/dev/null || echo read-only > /secret-ro)
RUN --mount=type=secret,id=tok,target=/etc/app.key,mode=0440,uid=7,gid=8 \
    stat -c '%a %u %g' /etc/app.key > /custom-stat
RUN --mount=type=secret,id=envtok,required sha256sum /run/secrets/envtok | cut -c1-64 \
    > /env-seen
RUN --mount=type=secret,id=absent echo optional-skipped > /optional
COPY . /ctx/
"""
    ctx = _context(tmp_path / "ctx", dockerfile)
    tags.append("berth-mount-secret:1")
    _build(daemon, ctx, "berth-mount-secret:1", "--secret", f"id=tok,src={secret_file}",
           "--secret", "id=envtok,env=BERTH_TEST_SECRET")
    out = _run(daemon, "berth-mount-secret:1",
               "cat /seen /secret-stat /secret-ro /custom-stat /env-seen /optional; "
               "ls -A /ctx; for p in /run/secrets /etc/app.key; do test -e $p && "
               "echo left $p; done; true")
    assert out.splitlines() == [_sha256(marker + "\n"), "400 0 0", "read-only", "440 7 8",
                                _sha256(env_marker), "optional-skipped", "Dockerfile"]
    saved = tmp_path / "image.tar"
    daemon.berth("save", "-o", str(saved), "berth-mount-secret:1", timeout=120)
    blobs = _all_bytes(saved.read_bytes())
    assert marker.encode() not in blobs and env_marker.encode() not in blobs
    assert b".berth-secrets" not in blobs
    history = daemon.berth("image", "history", "--no-trunc", "berth-mount-secret:1").stdout
    assert "--mount=type=secret,target=/run/secrets/tok,id=tok" in history
    assert marker not in history and env_marker not in history
    assert _leftovers(daemon) == []


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _all_bytes(archive: bytes) -> bytes:
    """``archive`` and every tar inside it, decompressed, concatenated."""
    out = [archive]
    with tarfile.open(fileobj=io.BytesIO(archive)) as tf:
        for member in tf:
            f = tf.extractfile(member) if member.isfile() else None
            if f is None:
                continue
            data = f.read()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            out.append(data)
            if member.name.endswith(".tar") or data[257:262] == b"ustar":
                out.append(_all_bytes(data))
    return b"".join(out)


@pytest.mark.parametrize(("line", "message"), [
    ("RUN --mount=type=nfs,target=/x true",
     'dockerfile parse error on line 2: unsupported mount type "nfs"'),
    ("RUN --mount=type=cache true", 'invalid mount target "/"'),
    ("RUN --mount=type=bind,target=/x,sharing=locked true",
     "dockerfile parse error on line 2: invalid cache sharing set for bind mount"),
    ("RUN --mount=type=tmpfs,target=/x,bogus=1 true",
     "dockerfile parse error on line 2: unexpected key 'bogus' in 'bogus=1'"),
    ("RUN --mount=type=secret,id=nope,required true", "secret nope: not found"),
    ("RUN --mount=type=bind,source=missing,target=/x true",
     'failed to mount /x: source "/missing": not found'),
    ("RUN --mount=type=ssh true", "RUN --mount=type=ssh is not supported"),
])
def test_bad_mounts_are_clear_errors(daemon: Daemon, tmp_path: Path, line: str,
                                     message: str) -> None:
    ctx = _context(tmp_path / "ctx", f"FROM busybox\n{line}\n")
    code, _, err = _build(daemon, ctx, "berth-mount-bad:1", check=False)
    assert code == 1 and message in err, err
    assert _leftovers(daemon) == []


def test_secret_flag_errors(daemon: Daemon, tmp_path: Path) -> None:
    ctx = _context(tmp_path / "ctx", "FROM busybox\n")
    missing = tmp_path / "nope"
    code, _, err = _build(daemon, ctx, "x:1", "--secret", f"id=a,src={missing}", check=False)
    assert code == 1 and f"failed to read secret a: open {missing}: no such file" in err
    code, _, err = _build(daemon, ctx, "x:1", "--secret", "id=a,foo=bar", check=False)
    assert code == 125 and "unexpected key 'foo' in 'foo=bar'" in err


def test_failing_run_with_mounts_leaves_nothing_behind(daemon: Daemon, tmp_path: Path
                                                       ) -> None:
    secret_file = tmp_path / "s"
    secret_file.write_text("x")
    ctx = _context(tmp_path / "ctx", "FROM busybox\n"
                   "RUN --mount=type=cache,target=/c --mount=type=tmpfs,target=/t "
                   "--mount=type=bind,target=/src,rw --mount=type=secret,id=s "
                   "--mount=type=bind,from=busybox,target=/bb sh -c 'echo x > /c/f; exit 7'\n",
                   {"a.txt": "a\n"})
    before = daemon.berth("ps", "-aq").stdout.split()
    host_mounts = _host_mounts(daemon)
    code, _, err = _build(daemon, ctx, "berth-mount-fail:1", "--secret",
                          f"id=s,src={secret_file}", check=False)
    assert code == 7, err
    assert "returned a non-zero code: 7" in err
    assert daemon.berth("ps", "-aq").stdout.split() == before
    assert _host_mounts(daemon) == host_mounts
    assert _leftovers(daemon) == []
