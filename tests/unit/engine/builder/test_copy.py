"""COPY/ADD against real directories: planning rules, the cache key, and the written layer."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import http.server
import lzma
import os
import stat
import threading

import pytest
from tests.tarballs import entry, make_tar
from tests.trees import write

from berth.engine.builder.copy import (
    CopySpec,
    LayerTree,
    copy_checksum,
    perform_copy,
    plan_copy,
)
from berth.errors import InvalidArgument, NotFound

is_root = os.geteuid() == 0
needs_root = pytest.mark.skipif(not is_root, reason="chown needs root")


@pytest.fixture
def ctx(tmp_path):
    root = tmp_path / "ctx"
    write(root, "a.txt", b"A")
    write(root, "b.txt", b"B")
    write(root, "run.sh", b"#!/bin/sh\n", 0o755)
    write(root, "src/main.py", b"print(1)\n")
    write(root, "src/util.py", b"u\n")
    write(root, "src/pkg/deep.py", b"d\n")
    os.symlink("main.py", root / "src/link.py")
    os.link(root / "src/util.py", root / "src/util2.py")
    os.symlink("a.txt", root / "alias")
    return root


@pytest.fixture
def image(tmp_path):
    """A lower layer with users, groups, an existing /app and /bin -> usr/bin."""
    lower = tmp_path / "lower"
    write(lower, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"
                               b"app:x:1000:1001::/home/app:/bin/sh\n")
    write(lower, "etc/group", b"root:x:0:\nstaff:x:50:\napp:x:1001:\n")
    write(lower, "usr/bin/true", b"", 0o755)
    os.symlink("usr/bin", lower / "bin")
    (lower / "opt").mkdir(mode=0o750)
    os.chmod(lower / "opt", 0o750)
    os.utime(lower / "opt", (1_000_000, 1_000_000))
    upper = tmp_path / "upper"
    upper.mkdir()
    return upper, LayerTree([lower])


def copy(ctx, upper, lower, *sources, dest, **kw):
    spec = CopySpec(sources=tuple(sources), dest=dest, **kw)
    with plan_copy(spec, ctx) as plan:
        perform_copy(plan, upper, lower)
        return copy_checksum(plan)


def names(root):
    return sorted(os.path.relpath(os.path.join(d, n), root)
                  for d, dirs, files in os.walk(root) for n in dirs + files)


# -- planning rules ------------------------------------------------------------------


def test_file_into_directory_and_to_a_new_name(ctx, image):
    upper, lower = image
    copy(ctx, upper, lower, "a.txt", dest="/data/")
    copy(ctx, upper, lower, "b.txt", dest="/data/renamed")
    copy(ctx, upper, lower, "run.sh", dest="/opt")  # an existing directory: under it
    assert (upper / "data/a.txt").read_bytes() == b"A"
    assert (upper / "data/renamed").read_bytes() == b"B"
    assert stat.S_IMODE((upper / "opt/run.sh").stat().st_mode) == 0o755


def test_directory_source_copies_its_contents(ctx, image):
    upper, lower = image
    copy(ctx, upper, lower, "src", dest="/app")
    assert names(upper / "app") == ["link.py", "main.py", "pkg", "pkg/deep.py", "util.py",
                                    "util2.py"]
    assert os.readlink(upper / "app/link.py") == "main.py"  # symlinks stay symlinks
    assert os.stat(upper / "app/util.py").st_ino == os.stat(upper / "app/util2.py").st_ino


def test_dest_relative_to_workdir(ctx, image):
    upper, lower = image
    copy(ctx, upper, lower, "a.txt", dest="sub/", workdir="/srv/www")
    copy(ctx, upper, lower, "b.txt", dest=".", workdir="/srv/www")
    assert (upper / "srv/www/sub/a.txt").exists()
    assert (upper / "srv/www/b.txt").exists()


def test_top_level_symlink_source_is_followed(ctx, image):
    upper, lower = image
    copy(ctx, upper, lower, "alias", dest="/x/")
    assert not (upper / "x/alias").is_symlink()
    assert (upper / "x/alias").read_bytes() == b"A"


@pytest.mark.parametrize(("pattern", "expected"), [
    ("*.txt", ["a.txt", "b.txt"]),
    ("[ab].txt", ["a.txt", "b.txt"]),
    ("[^a].txt", ["b.txt"]),
    ("?.txt", ["a.txt", "b.txt"]),
    ("src/*.py", ["link.py", "main.py", "util.py", "util2.py"]),
    ("*/main.py", ["main.py"]),
    ("**/deep.py", []),  # ** is just two stars: one component, no match at depth 3
    ("src/**/deep.py", ["deep.py"]),
])
def test_globs_follow_filepath_match(ctx, image, pattern, expected):
    upper, lower = image
    if not expected:
        with pytest.raises(InvalidArgument, match=r"^COPY failed: no source files were "
                                                  r"specified$"):
            plan_copy(CopySpec((pattern,), "/g/"), ctx)
        return
    copy(ctx, upper, lower, pattern, dest="/g/")
    assert sorted(os.listdir(upper / "g")) == expected


def test_several_sources_need_a_directory_destination(ctx):
    with pytest.raises(InvalidArgument, match=r"^When using COPY with more than one source "
                                              r"file, the destination must be a directory "
                                              r"and end with a /$"):
        plan_copy(CopySpec(("a.txt", "b.txt"), "/dest"), ctx)
    with pytest.raises(InvalidArgument, match="When using ADD"):
        plan_copy(CopySpec(("*.txt",), "/dest", add=True), ctx)


def test_missing_source_is_dockers_error(ctx):
    with pytest.raises(NotFound, match=r"^COPY failed: file not found in build context or "
                                       r"excluded by \.dockerignore: stat nope: file does "
                                       r"not exist$"):
        plan_copy(CopySpec(("nope",), "/"), ctx)


@pytest.mark.parametrize("src", ["../x", "..", "src/../../x", "./../x"])
def test_outside_the_context_is_forbidden(ctx, src):
    with pytest.raises(InvalidArgument, match=rf"^COPY failed: forbidden path outside the "
                                              rf"build context: {src.replace('.', '[.]')} "
                                              rf"\(\)$"):
        plan_copy(CopySpec((src,), "/"), ctx)


def test_symlink_out_of_the_context_stays_in_it(ctx, tmp_path):
    write(tmp_path, "secret", b"host secret")
    os.symlink(str(tmp_path / "secret"), ctx / "evil")
    os.symlink("../secret", ctx / "evil2")
    for src in ("evil", "evil2"):
        with pytest.raises(NotFound):
            plan_copy(CopySpec((src,), "/"), ctx)


def test_leading_slash_and_dot_are_context_relative(ctx, image):
    upper, lower = image
    copy(ctx, upper, lower, "/a.txt", "./b.txt", dest="/r/")
    assert sorted(os.listdir(upper / "r")) == ["a.txt", "b.txt"]


def test_heredocs_become_files(ctx, image):
    upper, lower = image
    copy(ctx, upper, lower, dest="/etc/app/", heredocs=(("one", b"1\n"), ("two", b"2\n")))
    copy(ctx, upper, lower, dest="/single.conf", heredocs=(("EOF", b"k=v\n"),), chmod="600")
    assert (upper / "etc/app/one").read_bytes() == b"1\n"
    assert stat.S_IMODE((upper / "etc/app/two").stat().st_mode) == 0o644
    assert (upper / "single.conf").read_bytes() == b"k=v\n"
    assert stat.S_IMODE((upper / "single.conf").stat().st_mode) == 0o600


def test_copy_of_a_url_is_refused(ctx):
    with pytest.raises(InvalidArgument, match="source can't be a URL for COPY"):
        plan_copy(CopySpec(("http://127.0.0.1:1/x",), "/"), ctx)


def test_chmod_must_be_octal(ctx):
    with pytest.raises(InvalidArgument, match=r"invalid chmod parameter: u\+x"):
        plan_copy(CopySpec(("a.txt",), "/", chmod="u+x"), ctx)


# -- writing into the layer ----------------------------------------------------------


def test_chmod_applies_to_files_and_directories(ctx, image):
    upper, lower = image
    copy(ctx, upper, lower, "src", dest="/app/", chmod="0700")
    assert stat.S_IMODE((upper / "app/main.py").stat().st_mode) == 0o700
    assert stat.S_IMODE((upper / "app/pkg").stat().st_mode) == 0o700


def test_missing_parents_copy_the_lower_metadata_or_are_0755(ctx, image):
    upper, lower = image
    copy(ctx, upper, lower, "a.txt", dest="/opt/new/deeper/")
    opt = (upper / "opt").stat()
    assert stat.S_IMODE(opt.st_mode) == 0o750 and opt.st_mtime == 1_000_000
    assert stat.S_IMODE((upper / "opt/new").stat().st_mode) == 0o755


def test_destination_through_an_image_symlink(ctx, image):
    upper, lower = image
    copy(ctx, upper, lower, "run.sh", dest="/bin/")
    assert (upper / "usr/bin/run.sh").exists()
    assert not (upper / "bin").exists()


def test_copying_onto_a_file_parent_fails(ctx, image):
    upper, lower = image
    with pytest.raises(InvalidArgument, match="cannot copy to non-directory: /etc/passwd"):
        copy(ctx, upper, lower, "a.txt", dest="/etc/passwd/x")


@needs_root
@pytest.mark.parametrize(("chown", "owner"), [
    (None, (0, 0)), ("app", (1000, 1001)), ("app:staff", (1000, 50)), ("1234", (1234, 1234)),
    ("1234:55", (1234, 55)), ("root:app", (0, 1001)),
])
def test_chown_resolves_through_the_image(ctx, image, chown, owner):
    upper, lower = image
    copy(ctx, upper, lower, "src", "a.txt", dest="/app/", chown=chown)
    for rel in ("app", "app/a.txt", "app/pkg", "app/pkg/deep.py"):
        st = os.lstat(upper / rel)
        assert (st.st_uid, st.st_gid) == owner, rel
    assert os.lstat(upper / "app/link.py")[4:6] == owner


@pytest.mark.parametrize(("chown", "message"), [
    ("nobody", "unable to convert uid/gid chown string to host mapping: can't find uid for "
               "user nobody: no such user: nobody"),
    ("app:wheel", "unable to convert uid/gid chown string to host mapping: can't find gid "
                  "for group wheel: no such group: wheel"),
])
def test_unknown_chown_names_fail(ctx, image, chown, message):
    upper, lower = image
    with pytest.raises(InvalidArgument, match=f"^{message}$"):
        copy(ctx, upper, lower, "a.txt", dest="/", chown=chown)


def test_copy_from_a_layer_tree_honours_whiteouts(tmp_path, image):
    upper, lower = image
    stage_lower, stage_upper = tmp_path / "s1", tmp_path / "s2"
    write(stage_lower, "out/keep", b"k")
    write(stage_lower, "out/removed", b"r")
    write(stage_upper, "out/.wh.removed", b"")
    write(stage_upper, "out/new", b"n")
    copy(LayerTree([stage_upper, stage_lower]), upper, lower, "/out", dest="/dist")
    assert sorted(os.listdir(upper / "dist")) == ["keep", "new"]


@pytest.mark.parametrize("compress", [None, gzip.compress, bz2.compress, lzma.compress])
def test_add_extracts_local_archives(ctx, image, compress):
    upper, lower = image
    data = make_tar(*(entry(name, data=content, mode=0o751, uid=7, gid=8)
                      for name, content in (("pkg/bin/tool", b"tool"), ("pkg/README", b"read me"))))
    write(ctx, "bundle.tar", compress(data) if compress else data)
    copy(ctx, upper, lower, "bundle.tar", dest="/opt/x", add=True)
    assert (upper / "opt/x/pkg/bin/tool").read_bytes() == b"tool"
    assert stat.S_IMODE((upper / "opt/x/pkg/README").stat().st_mode) == 0o751
    if is_root:
        assert os.stat(upper / "opt/x/pkg/README")[4:6] == (7, 8)  # owners from the tar
    # COPY never extracts; ADD of a non-archive copies
    copy(ctx, upper, lower, "bundle.tar", dest="/copied/")
    assert (upper / "copied/bundle.tar").read_bytes() == (ctx / "bundle.tar").read_bytes()
    copy(ctx, upper, lower, "a.txt", dest="/added/", add=True)
    assert (upper / "added/a.txt").read_bytes() == b"A"


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b"remote content\n"

    def do_GET(self):
        if self.path.startswith("/missing"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.send_header("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")
        if self.path == "/":
            self.send_header("Content-Disposition", 'attachment; filename="named.bin"')
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_add_url_downloads_with_checksum(ctx, image, server):
    upper, lower = image
    digest = "sha256:" + hashlib.sha256(_Handler.body).hexdigest()
    copy(ctx, upper, lower, f"{server}/files/tool.sh", dest="/dl/", add=True, checksum=digest)
    path = upper / "dl/tool.sh"
    assert path.read_bytes() == _Handler.body
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_mtime == 1445412480  # Last-Modified
    copy(ctx, upper, lower, f"{server}/", dest="/dl/", add=True)
    assert (upper / "dl/named.bin").read_bytes() == _Handler.body
    copy(ctx, upper, lower, f"{server}/x.tar", dest="/dl/file", add=True)
    assert (upper / "dl/file").read_bytes() == _Handler.body


def test_add_url_checksum_mismatch_and_http_errors(ctx, server, tmp_path):
    wrong = "sha256:" + "0" * 64
    with pytest.raises(InvalidArgument, match=f"^digest mismatch sha256:[0-9a-f]{{64}}: "
                                              f"{wrong}$"):
        plan_copy(CopySpec((f"{server}/f",), "/", add=True, checksum=wrong), ctx,
                  scratch=tmp_path / "dl")
    with pytest.raises(InvalidArgument, match="status 404"):
        plan_copy(CopySpec((f"{server}/missing",), "/", add=True), ctx)
    with pytest.raises(InvalidArgument, match="checksum can't be specified for non-HTTP"):
        plan_copy(CopySpec(("a.txt",), "/", add=True, checksum=wrong), ctx)
    with pytest.raises(InvalidArgument, match="invalid checksum"):
        plan_copy(CopySpec((f"{server}/f",), "/", add=True, checksum="md5:abc"), ctx)


def test_downloads_are_removed_with_the_plan(ctx, server):
    plan = plan_copy(CopySpec((f"{server}/f",), "/", add=True), ctx)
    scratch = plan.scratch
    assert scratch is not None and any(scratch.iterdir())
    plan.close()
    assert not scratch.exists()


# -- the cache key -------------------------------------------------------------------


def checksum(ctx, *sources, known=None, **kw):
    kw.setdefault("dest", "/app/")
    with plan_copy(CopySpec(sources=sources, **kw), ctx) as plan:
        return copy_checksum(plan, known)


def test_known_digests_stand_in_for_reading_the_files(ctx):
    files = [p for p in (ctx / "src").rglob("*") if p.is_file()]
    known = {(p.stat().st_dev, p.stat().st_ino): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in files}
    assert checksum(ctx, "src", known=known) == checksum(ctx, "src")
    poisoned = {key: "0" * 64 for key in known}  # used, not read again: the key follows
    assert checksum(ctx, "src", known=poisoned) != checksum(ctx, "src")


def test_checksum_is_stable_and_ignores_mtime(ctx):
    first = checksum(ctx, "src", "a.txt")
    assert first == checksum(ctx, "src", "a.txt")
    assert first.startswith("sha256:") and len(first) == 71
    os.utime(ctx / "src/main.py", (1, 1))
    os.utime(ctx / "a.txt", (2, 2))
    assert checksum(ctx, "src", "a.txt") == first


def test_checksum_changes_with_content_metadata_and_flags(ctx):
    base = checksum(ctx, "src")
    seen = {base}

    def changed(value):
        assert value not in seen
        seen.add(value)

    write(ctx, "src/main.py", b"print(2)\n")
    changed(checksum(ctx, "src"))
    os.chmod(ctx / "src/util.py", 0o600)
    changed(checksum(ctx, "src"))
    write(ctx, "src/new.py", b"")
    changed(checksum(ctx, "src"))
    changed(checksum(ctx, "src", chown="1:1"))
    changed(checksum(ctx, "src", chmod="755"))
    changed(checksum(ctx, "src", dest="/other/"))
    os.unlink(ctx / "src/link.py")
    os.symlink("util.py", ctx / "src/link.py")
    changed(checksum(ctx, "src"))


def test_checksum_of_heredocs_follows_their_bodies(ctx):
    one = checksum(ctx, heredocs=(("f", b"1"),))
    assert one == checksum(ctx, heredocs=(("f", b"1"),))
    assert one != checksum(ctx, heredocs=(("f", b"2"),))


def test_links_outside_the_copy_do_not_change_the_checksum(ctx, tmp_path):
    """A kept context links every file to its copy of the build before
    (contextcache.py): only links inside what is copied count."""
    first = checksum(ctx, "src", "a.txt")
    other = tmp_path / "elsewhere"
    other.mkdir()
    os.link(ctx / "a.txt", other / "a.txt")
    os.link(ctx / "src/main.py", other / "main.py")
    os.link(ctx / "src/util.py", other / "util.py")  # util2.py stays util.py's link
    assert checksum(ctx, "src", "a.txt") == first
    os.unlink(ctx / "src/util2.py")
    write(ctx, "src/util2.py", b"u\n")  # the same bytes, no longer a link
    assert checksum(ctx, "src", "a.txt") != first
