"""``berth build`` end to end: the CLI walks and streams the context, berthd builds it, and
the files, owners and modes are checked by running the image."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat.daemon import Daemon
from tests.tarballs import tar_of
from tests.trees import write_tree

REMOTE = b"downloaded over http\n"


class _Files(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(REMOTE)))
        self.send_header("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")
        self.end_headers()
        self.wfile.write(REMOTE)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_url() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _context(root: Path, url: str) -> Path:
    files: dict[str, bytes] = {
        "files/a.conf": b"conf a\n", "files/sub/b.conf": b"conf b\n",
        "one.txt": b"1\n", "two.txt": b"2\n", "other.md": b"md\n",
        "owned.txt": b"owned\n", "mode.txt": b"mode\n",
        "bundle.tar.gz": tar_of({"pkg/tool": b"tool\n", "pkg/doc": b"doc\n"}, mode=0o750,
                                compression="gz"),
        "ignored/huge.bin": b"never sent\n", ".dockerignore": b"ignored\n",
    }
    write_tree(root, files)
    (root / "files/sub/b.conf").chmod(0o600)
    digest = "sha256:" + hashlib.sha256(REMOTE).hexdigest()
    (root / "Dockerfile").write_text(f"""FROM busybox
RUN echo 'app:x:1400:1500::/home/app:/bin/sh' >> /etc/passwd && echo 'grp:x:1500:' >> /etc/group
WORKDIR /srv
COPY files /files/
COPY *.txt globbed/
COPY --chown=app:grp owned.txt /owned/
COPY --chown=1234:55 --chmod=0640 mode.txt /mode/
ADD bundle.tar.gz /extracted/
ADD --checksum={digest} {url}/dl/remote.bin /remote/
COPY <<EOF /heredoc.txt
hello heredoc
EOF
COPY . /all/
""")
    return root


def test_berth_build_copy_add_checked_by_running(daemon: Daemon, tags: list[str],
                                                 tmp_path: Path, http_url: str) -> None:
    ctx = _context(tmp_path / "ctx", http_url)
    iid = tmp_path / "iid"
    tags.append("berth-build-copy:1")
    done = daemon.berth("build", "-t", "berth-build-copy:1", "--iidfile", str(iid),
                        str(ctx), timeout=300)
    assert "Sending build context to Berth daemon" in done.stdout
    assert "Successfully tagged berth-build-copy:1" in done.stdout
    image_id = iid.read_text()
    assert image_id.startswith("sha256:")
    script = ("cd / && for f in files/a.conf files/sub/b.conf srv/globbed/one.txt "
              "srv/globbed/two.txt owned/owned.txt mode/mode.txt extracted/pkg/tool "
              "remote/remote.bin heredoc.txt; do stat -c '%n %u:%g %a' $f; done; "
              "cat extracted/pkg/tool remote/remote.bin heredoc.txt; "
              "ls /srv/globbed | wc -l; ls -A /all; stat -c '%Y' remote/remote.bin")
    out = daemon.berth("run", "--rm", image_id, "sh", "-c", script, timeout=120).stdout
    lines = out.splitlines()
    assert lines[:9] == [
        "files/a.conf 0:0 644", "files/sub/b.conf 0:0 600",
        "srv/globbed/one.txt 0:0 644", "srv/globbed/two.txt 0:0 644",
        "owned/owned.txt 1400:1500 644", "mode/mode.txt 1234:55 640",
        "extracted/pkg/tool 0:0 750", "remote/remote.bin 0:0 600", "heredoc.txt 0:0 644",
    ]
    assert lines[9:12] == ["tool", "downloaded over http", "hello heredoc"]
    assert lines[12].strip() == "4"  # *.txt: one, two, owned, mode (not other.md)
    assert lines[13:-1] == [".dockerignore", "Dockerfile", "bundle.tar.gz", "files",
                            "mode.txt", "one.txt", "other.md", "owned.txt", "two.txt"]
    assert lines[-1] == "1445412480"  # ADD of a URL keeps Last-Modified


def test_berth_build_quiet_stdin_and_errors(daemon: Daemon, tags: list[str],
                                            tmp_path: Path) -> None:
    tags.append("berth-build-q:1")
    quiet = daemon.berth("build", "-q", "-t", "berth-build-q:1", "-",
                         input="FROM busybox\nLABEL quiet=yes\n", timeout=120)
    assert quiet.stdout.startswith("sha256:") and len(quiet.stdout.strip()) == 71
    ctx = tmp_path / "bad"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY ../outside /x\n")
    bad = daemon.berth("build", str(ctx), check=False, timeout=120)
    assert bad.returncode == 1
    assert "forbidden path outside the build context: ../outside ()" in bad.stderr
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY missing.txt /x\n")
    bad = daemon.berth("build", str(ctx), check=False, timeout=120)
    assert bad.returncode == 1
    assert ("file not found in build context or excluded by .dockerignore: stat "
            "missing.txt: file does not exist") in bad.stderr
    (ctx / "Dockerfile").write_text("FROM busybox\nENV A=1\nRUN exit 3\n")
    failed = daemon.berth("build", str(ctx), check=False, timeout=120)
    assert failed.returncode == 3, failed.stderr
    # the failing instruction and its line, as BuildKit shows them, before docker's message
    assert ("Dockerfile:3\n--------------------\n   1 |     FROM busybox\n"
            "   2 |     ENV A=1\n   3 | >>> RUN exit 3\n--------------------\n") in failed.stdout
