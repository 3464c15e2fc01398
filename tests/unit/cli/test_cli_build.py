"""``berth build``: the client-side context walk (.dockerignore pruning), the streamed tar,
and the verb against the fake daemon."""

from __future__ import annotations

import io
import json
import os
import tarfile

import fake_daemon
import pytest
from tests.tarballs import tar_of
from tests.trees import write

from berth.cli import buildcontext
from berth.cli.commands import build as build_cmd
from berth.formats.contextsync import BASE_GONE, MANIFEST_ENTRY
from berth.formats.dockerignore import DockerIgnore


class Member:
    def __init__(self, info: tarfile.TarInfo, data: bytes | None) -> None:
        self.info = info
        self.data = data

    def __getattr__(self, name):
        return getattr(self.info, name)


def untar(data: bytes) -> dict[str, Member]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
        return {m.name: Member(m, tf.extractfile(m).read() if m.isreg() else None)
                for m in tf}


def stream(root, ignore_text=None, head=None) -> bytes:
    ignore = DockerIgnore.parse(ignore_text).for_build() if ignore_text else None
    return b"".join(buildcontext.tar_stream(str(root), ignore, head))


@pytest.fixture(scope="module")
def big_excluded(tmp_path_factory):
    root = tmp_path_factory.mktemp("big") / "ctx"
    write(root, "Dockerfile", b"FROM scratch\n")
    write(root, "app.py", b"print()\n")
    heavy = root / "node_modules"
    for i in range(200):
        (heavy / f"pkg{i}").mkdir(parents=True)
        for j in range(100):  # 20,000 files
            (heavy / f"pkg{i}" / f"f{j}.js").touch()
    return root


def test_excluded_directory_is_never_entered(big_excluded, monkeypatch):
    scanned: list[str] = []
    stats: list[str] = []
    real_scandir, real_lstat, real_stat = os.scandir, os.lstat, os.stat
    monkeypatch.setattr(os, "scandir", lambda p=".": scanned.append(str(p)) or real_scandir(p))
    monkeypatch.setattr(os, "lstat", lambda p, **kw: stats.append(str(p)) or real_lstat(p, **kw))
    monkeypatch.setattr(os, "stat", lambda p, **kw: stats.append(str(p)) or real_stat(p, **kw))
    ignore = DockerIgnore.parse("node_modules\n").for_build()
    members = [m.rel for m in buildcontext.walk(str(big_excluded), ignore)]
    assert members == ["Dockerfile", "app.py"]
    assert scanned == [str(big_excluded)]
    assert not any("node_modules/" in p for p in stats)


def test_exception_inside_an_excluded_directory_is_walked(big_excluded):
    ignore = DockerIgnore.parse("node_modules\n!node_modules/pkg7/f3.js\n").for_build()
    members = [m.rel for m in buildcontext.walk(str(big_excluded), ignore)]
    assert members == ["Dockerfile", "app.py", "node_modules/pkg7/f3.js"]


def test_tar_stream_has_docker_archive_shape(tmp_path):
    root = tmp_path / "ctx"
    write(root, "Dockerfile", b"FROM scratch\n")
    write(root, "bin/run", b"#!/bin/sh\n", 0o755)
    write(root, "data/big", os.urandom(200_000))
    write(root, "skip.log", b"no")
    os.symlink("run", root / "bin/alias")
    os.link(root / "bin/run", root / "bin/hard")
    write(root, ".dockerignore", b"*.log\nDockerfile\n")
    members = untar(stream(root, "*.log\nDockerfile\n"))
    assert next(iter(members)) == ".dockerignore"  # first, so the daemon filters early
    assert set(members) == {".dockerignore", "Dockerfile", "bin", "bin/alias", "bin/hard",
                            "bin/run", "data", "data/big"}
    first = members["bin/hard"]  # name order: the first name of the inode has the data
    assert first.mode == 0o755 and first.uid == 0 and first.gid == 0 and first.uname == ""
    assert first.data == b"#!/bin/sh\n"
    assert members["bin/alias"].issym() and members["bin/alias"].linkname == "run"
    assert members["bin/run"].islnk() and members["bin/run"].linkname == "bin/hard"
    assert members["data/big"].data == (root / "data/big").read_bytes()


def test_unreadable_file_is_dockers_error(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    root = tmp_path / "ctx"
    write(root, "secret", b"s", 0o000)
    with pytest.raises(buildcontext.ContextError, match="no permission to read from"):
        stream(root)


def test_dockerfile_outside_the_context_gets_a_generated_name(tmp_path, monkeypatch):
    root = tmp_path / "ctx"
    write(root, "a", b"a")
    write(root, ".dockerignore", b"*.tmp\n")
    write(tmp_path, "other/app.Dockerfile", b"FROM busybox\n")
    monkeypatch.chdir(tmp_path / "other")
    context = build_cmd._context(None, str(root), "app.Dockerfile")
    body, name = context.body(None, incremental=False), context.dockerfile
    assert name.startswith(".dockerfile.") and len(name) == len(".dockerfile.") + 20
    members = untar(b"".join(body))
    assert members[name].data == b"FROM busybox\n"
    # as docker's AddDockerfileToBuildContext writes it: the daemon removes the name
    assert members[".dockerignore"].data == f"*.tmp\n\n{name}\n".encode()
    assert "a" in members


def test_an_outside_dockerfile_without_dockerignore_gets_one_listing_itself(tmp_path):
    root = tmp_path / "ctx"
    write(root, "a", b"a")
    write(tmp_path, "other/Dockerfile", b"FROM busybox\n")
    context = build_cmd._context(None, str(root), str(tmp_path / "other/Dockerfile"))
    name = context.dockerfile
    members = untar(b"".join(context.body(None, incremental=False)))
    assert members[".dockerignore"].data == f".dockerignore\n{name}\n".encode()


def test_dockerfile_inside_is_relative_to_the_current_directory(tmp_path, monkeypatch):
    root = tmp_path / "ctx"
    write(root, "sub/my.Dockerfile", b"FROM scratch\n")
    monkeypatch.chdir(root / "sub")
    assert build_cmd._context(None, str(root), "my.Dockerfile").dockerfile == \
        "sub/my.Dockerfile"


def test_missing_context_and_dockerfile_errors(tmp_path):
    with pytest.raises(build_cmd.StatusError, match='unable to prepare context: path "nope" '
                                                    'not found'):
        build_cmd._context(None, "nope", "")
    (tmp_path / "empty").mkdir()
    with pytest.raises(build_cmd.StatusError, match=r"unable to evaluate symlinks in "
                                                    r"Dockerfile path: lstat .*/empty/"
                                                    r"Dockerfile: no such file or directory"):
        build_cmd._context(None, str(tmp_path / "empty"), "")


def test_stdin_tar_is_sent_as_is_and_a_dockerfile_is_wrapped():
    tar = tar_of({"Dockerfile": b"FROM scratch\n"})
    body, name = build_cmd._stdin_context(io.BytesIO(tar), "")
    assert b"".join(body) == tar and name == ""
    body, name = build_cmd._stdin_context(io.BytesIO(b"FROM busybox\nRUN true\n"), "")
    assert name == "Dockerfile"
    assert untar(b"".join(body))["Dockerfile"].data == b"FROM busybox\nRUN true\n"


# -- the verb against the fake daemon ------------------------------------------------


class BuildRoute:
    """The fake daemon's ``POST /build`` (``replies[0]``: its JSON lines, or an int: an
    error status with ``BASE_GONE``) and ``POST /build/context`` (``context``: its answer,
    None for a 404 as dockerd gives)."""

    def __init__(self) -> None:
        self.replies: list = [[{"stream": "Step 1/1 : FROM scratch\n"},
                               {"aux": {"ID": "sha256:" + "c" * 64}},
                               {"stream": "Successfully built cccccccccccc\n"}]]
        self.context: dict | None = None

    def __getitem__(self, i: int) -> list:
        return self.replies[i]

    def __setitem__(self, i: int, value: list) -> None:
        self.replies[i] = value


@pytest.fixture
def build_route(monkeypatch):
    route = BuildRoute()

    def post_build(self, req, parts, state):
        if parts == ["context"]:
            if route.context is None:
                self._reply(404, {"message": "page not found"})
            else:
                self._reply(200, route.context)
            return
        reply = route.replies.pop(0) if len(route.replies) > 1 else route.replies[0]
        if isinstance(reply, int):
            self._reply(reply, {"message": BASE_GONE})
        else:
            self._lines(reply)

    monkeypatch.setattr(fake_daemon.Handler, "_post_build", post_build, raising=False)
    return route


def test_build_sends_the_context_and_flags(berth, daemon, build_route, tmp_path,
                                           monkeypatch):
    root = tmp_path / "ctx"
    write(root, "Dockerfile", b"FROM scratch\n")
    write(root, "keep.txt", b"k")
    write(root, "junk/big", b"j")
    write(root, ".dockerignore", b"junk\n")
    iid = tmp_path / "iid"
    iid.write_text("stale")
    code, out, err = berth("build", "-t", "app:1", "-t", "app:latest", "--build-arg", "A=1",
                           "--build-arg", "UNSET_X", "--label", "k=v", "--target", "final",
                           "--no-cache", "--pull", "--network", "none", "--iidfile",
                           str(iid), str(root))
    assert (code, err) == (0, "")
    assert out.splitlines() == [out.splitlines()[0], "Step 1/1 : FROM scratch",
                                "Successfully built cccccccccccc"]
    assert out.startswith("Sending build context to Berth daemon  ")
    assert iid.read_text() == "sha256:" + "c" * 64
    req = daemon.state.find("POST", "/build")
    q = req.query
    assert q["t"] == ["app:1", "app:latest"] and q["target"] == ["final"]
    assert json.loads(q["buildargs"][0]) == {"A": "1", "UNSET_X": None}
    assert json.loads(q["labels"][0]) == {"k": "v"}
    assert q["nocache"] == ["1"] and q["pull"] == ["1"] and q["networkmode"] == ["none"]
    assert q["dockerfile"] == ["Dockerfile"]
    assert req.headers["Transfer-Encoding"] == "chunked"
    sent = untar(req.body)
    assert set(sent) == {MANIFEST_ENTRY, ".dockerignore", "Dockerfile", "keep.txt"}
    listed = json.loads(sent[MANIFEST_ENTRY].data)
    assert listed["base"] == "" and listed["key"].endswith(":" + str(root))
    assert [f[0] for f in listed["files"]] == ["Dockerfile", "keep.txt"]
    asked = json.loads(daemon.state.find("POST", "/build/context").body)
    assert [f[:2] for f in asked["files"]] == [["Dockerfile", 13], ["keep.txt", 1]]


def test_files_the_daemon_kept_are_left_out(berth, daemon, build_route, tmp_path):
    root = tmp_path / "ctx"
    write(root, "Dockerfile", b"FROM scratch\n")
    write(root, "a/kept.bin", b"k" * 5000)
    write(root, "a/new.txt", b"n")
    os.link(root / "a/new.txt", root / "a/linked.txt")  # other links: always sent
    build_route.context = {"base": "g1", "reuse": [1]}
    code, out, _ = berth("build", str(root))
    assert code == 0 and "context to Berth daemon  5.12kB" in out, out
    sent = untar(daemon.state.find("POST", "/build").body)
    assert set(sent) == {MANIFEST_ENTRY, "Dockerfile", "a", "a/new.txt", "a/linked.txt"}
    assert (sent["a/linked.txt"].type, sent["a/new.txt"].type) == (tarfile.REGTYPE,
                                                                    tarfile.LNKTYPE)
    listed = json.loads(sent[MANIFEST_ENTRY].data)
    assert listed["base"] == "g1"
    assert [(f[0], f[3]) for f in listed["files"]] == [("Dockerfile", False),
                                                      ("a/kept.bin", True)]


def test_a_base_gone_sends_everything_again(berth, daemon, build_route, tmp_path):
    root = tmp_path / "ctx"
    write(root, "Dockerfile", b"FROM scratch\n")
    write(root, "kept.bin", b"k" * 5000)
    build_route.context = {"base": "g1", "reuse": [0, 1]}
    build_route.replies.insert(0, 409)
    code, out, err = berth("build", str(root))
    assert (code, err) == (0, ""), err
    first, second = [r for r in daemon.state.requests if r.path.endswith("/build")]
    assert set(untar(first.body)) == {MANIFEST_ENTRY}
    assert set(untar(second.body)) == {"Dockerfile", "kept.bin"}
    assert "context to Berth daemon  7.68kB" in out, out


def test_a_daemon_without_kept_contexts_gets_the_whole_context(berth, daemon, build_route,
                                                               tmp_path):
    write(tmp_path / "ctx", "Dockerfile", b"FROM scratch\n")
    assert berth("build", str(tmp_path / "ctx"))[0] == 0  # /build/context is a 404
    sent = untar(daemon.state.find("POST", "/build").body)
    assert json.loads(sent[MANIFEST_ENTRY].data)["base"] == ""
    assert "Dockerfile" in sent


def test_quiet_prints_only_the_id(berth, build_route, tmp_path):
    write(tmp_path / "ctx", "Dockerfile", b"FROM scratch\n")
    build_route[0] = [{"stream": "sha256:" + "d" * 64 + "\n"}]
    code, out, err = berth("build", "-q", str(tmp_path / "ctx"))
    assert (code, out, err) == (0, "sha256:" + "d" * 64 + "\n", "")


def test_error_goes_to_stderr_with_its_code(berth, build_route, tmp_path):
    write(tmp_path / "ctx", "Dockerfile", b"FROM scratch\n")
    build_route[0] = [{"stream": "Step 1/2 : RUN exit 3\n"},
                      {"errorDetail": {"code": 3, "message": "The command '/bin/sh -c exit "
                                       "3' returned a non-zero code: 3"},
                       "error": "The command '/bin/sh -c exit 3' returned a non-zero code: 3"}]
    code, out, err = berth("build", str(tmp_path / "ctx"))
    assert code == 3
    assert "Step 1/2 : RUN exit 3\n" in out
    assert err == "The command '/bin/sh -c exit 3' returned a non-zero code: 3\n"
