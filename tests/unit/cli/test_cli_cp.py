"""``berth cp`` both ways against the fake daemon's archive endpoints: docker's copy rules
(where a copy lands, renames, refusals), tar on stdin/stdout, and a tar from the daemon
that points outside the destination refused (issue 12)."""

from __future__ import annotations

import base64
import io
import json
import os
import sys
import tarfile
from pathlib import Path

import pytest
from tests.tarballs import entry, make_tar

from berth.cli.commands.cp import split_cp_arg
from berth.cli.copyarchive import rebase_name

DIR = 1 << 31
LINK = 1 << 27


def tar_of(entries: list[tuple[str, bytes | str | None]]) -> bytes:
    """A tar: (name, content) a file, (name, None) a directory, (name, "target") a
    symlink."""
    return make_tar(*(entry(name, tarfile.DIRTYPE, mode=0o755) if data is None else
                      entry(name, tarfile.SYMTYPE, linkname=data) if isinstance(data, str)
                      else entry(name, data=data, mode=0o640) for name, data in entries))


def names_in(data: bytes) -> dict[str, bytes | None]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: (tar.extractfile(m).read() if m.isfile() else None)  # type: ignore[union-attr]
                for m in tar}


def stat(name: str, mode: int = 0o644, link: str = "") -> dict:
    return {"name": name, "size": 5, "mode": mode, "mtime": "2026-12-05T08:00:00Z",
            "linkTarget": link}


@pytest.fixture
def archive(daemon):
    state = daemon.state
    state.archive = {
        "/etc/hello.txt": (stat("hello.txt"), tar_of([("hello.txt", b"hello")])),
        "/data": (stat("data", DIR | 0o755), tar_of([("data", None), ("data/a", b"A"),
                                                      ("data/sub", None),
                                                      ("data/sub/b", b"B")])),
        "/srv": (stat("srv", DIR | 0o755), b""),
        "/dev/null": (stat("null", (1 << 26) | (1 << 21) | 0o666), b""),
        "/data/.": (stat(".", DIR | 0o755), tar_of([(".", None), ("./a", b"A")])),
        "/tmp": (stat("tmp", DIR | 0o1777), b""),
        "/etc/link": (stat("link", LINK | 0o777, "hello.txt"), b""),
        "/evil": (stat("evil", DIR | 0o755), tar_of([("evil", None),
                                                      ("../escaped", b"x")])),
        "/links": (stat("links", DIR | 0o755), tar_of([
            ("links", None), ("links/abs", "/bin/busybox"), ("links/rel", "abs"),
            ("links/up", "../links/rel")])),
        "/badlink": (stat("badlink", DIR | 0o755), tar_of([
            ("badlink", None), ("badlink/out", "../../../../../etc")])),
        "/through": (stat("through", DIR | 0o755), tar_of([
            ("through", None), ("through/etc", "/etc"), ("through/etc/evil", b"x")])),
    }
    return state


@pytest.mark.parametrize(("arg", "split"), [
    ("web:/etc/hosts", ("web", "/etc/hosts")), ("/abs:path", ("", "/abs:path")),
    ("./rel:x", ("", "./rel:x")), ("plain", ("", "plain")), ("web:", ("web", "")),
])
def test_split_cp_arg_as_docker(arg, split):
    assert split_cp_arg(arg) == split


@pytest.mark.parametrize(("name", "rebase", "renamed"), [
    ("data", ("data", "copy"), "copy"), ("data/a", ("data", "copy"), "copy/a"),
    ("database", ("data", "copy"), "database"), (".", (".", "new"), "new"),
    ("./x", (".", "new"), "new/x"), ("f", None, "f"),
])
def test_rebase_name(name, rebase, renamed):
    assert rebase_name(name, rebase) == renamed


def test_file_from_container_to_new_local_name(berth, archive, tmp_path: Path):
    dest = tmp_path / "out.txt"
    code, _out, err = berth("cp", "--quiet=false", "web:/etc/hello.txt", str(dest))
    assert code == 0
    assert dest.read_bytes() == b"hello"
    assert dest.stat().st_mode & 0o777 == 0o640
    assert err == f"Successfully copied 10.2kB to {dest}\n"  # the body, padding and all
    assert archive.find("GET", "/archive").query["path"] == ["/etc/hello.txt"]


def test_quiet_by_default_without_a_terminal(berth, archive, tmp_path: Path):
    code, out, err = berth("cp", "web:/etc/hello.txt", str(tmp_path))
    assert (code, out, err) == (0, "", "")
    assert (tmp_path / "hello.txt").read_bytes() == b"hello"


def test_directory_from_container_into_existing_and_new_directory(berth, archive,
                                                                   tmp_path: Path):
    assert berth("cp", "web:/data", str(tmp_path))[0] == 0
    assert (tmp_path / "data" / "sub" / "b").read_bytes() == b"B"
    assert berth("cp", "web:/data", str(tmp_path / "copy"))[0] == 0
    assert (tmp_path / "copy" / "a").read_bytes() == b"A"
    assert (tmp_path / "copy" / "sub" / "b").read_bytes() == b"B"


def test_directory_onto_a_file_is_refused(berth, archive, tmp_path: Path):
    (tmp_path / "file").write_text("x")
    code, _, err = berth("cp", "web:/data", str(tmp_path / "file"))
    assert (code, err) == (1, "cannot copy directory\n")


def test_file_into_missing_directory_is_refused(berth, archive, tmp_path: Path):
    code, _, err = berth("cp", "web:/etc/hello.txt", str(tmp_path / "nodir") + "/")
    assert (code, err) == (1, "no such directory\n")
    code, _, err = berth("cp", "web:/etc/hello.txt", str(tmp_path / "a" / "b"))
    assert code == 1
    assert err == f'invalid output path: directory "{tmp_path / "a"}" does not exist\n'


def test_tar_escaping_the_destination_is_refused(berth, archive, tmp_path: Path):
    target = tmp_path / "in"
    target.mkdir()
    code, _, err = berth("cp", "web:/evil", str(target))
    assert code == 1
    assert "is outside the destination" in err, err
    assert not (tmp_path / "escaped").exists()


def test_symlinks_copied_as_links_unless_they_climb_out(berth, archive, tmp_path: Path):
    assert berth("cp", "web:/links", str(tmp_path))[0] == 0
    assert os.readlink(tmp_path / "links" / "abs") == "/bin/busybox"
    assert os.readlink(tmp_path / "links" / "up") == "../links/rel"
    code, _, err = berth("cp", "web:/badlink", str(tmp_path))
    assert code == 1
    assert err == (f'invalid symlink "{tmp_path}/badlink/out" -> "../../../../../etc"\n')
    assert not (tmp_path / "badlink" / "out").exists()


def test_no_write_through_a_link_out_of_the_destination(berth, archive, tmp_path: Path):
    code, _, err = berth("cp", "web:/through", str(tmp_path))
    assert code == 1 and "outside the destination" in err, err
    assert not os.path.exists("/etc/evil")


def test_missing_source_is_daemon_error(berth, archive, tmp_path: Path):
    code, _, err = berth("cp", "web:/nope", str(tmp_path))
    assert (code, err) == (1, "Error response from daemon: Could not find the file /nope "
                              "in container web\n")


def test_follow_link_renames_to_the_link(berth, archive, tmp_path: Path):
    assert berth("cp", "-L", "web:/etc/link", str(tmp_path))[0] == 0
    assert (tmp_path / "link").read_bytes() == b"hello"
    assert [r.method for r in archive.requests if "archive" in r.path] == ["HEAD", "GET"]
    assert archive.find("GET", "/archive").query["path"] == ["/etc/hello.txt"]


def test_tar_to_stdout(berth, archive):
    code, out, _ = berth("cp", "web:/data", "-")
    assert code == 0
    assert out.encode() == archive.archive["/data"][1]


def test_between_containers_or_none_refused(berth):
    assert berth("cp", "a:/x", "b:/y")[1:] == ("", "copying between containers is not "
                                                   "supported\n")
    assert berth("cp", "x", "y")[2] == "must specify at least one container source\n"
    assert berth("cp", "", "y")[2] == "source can not be empty\n"


def test_file_to_container_directory(berth, archive, tmp_path: Path):
    src = tmp_path / "note.txt"
    src.write_bytes(b"note")
    code, _, err = berth("cp", "-q=false", str(src), "web:/srv")
    assert code == 0
    assert names_in(archive.uploaded) == {"note.txt": b"note"}
    put = archive.find("PUT", "/archive")
    assert put.query == {"path": ["/srv"], "noOverwriteDirNonDir": ["1"]}
    assert err == "Successfully copied 2.05kB to web:/srv\n"  # 512 + 512 + 1024


def test_directory_to_new_container_path_is_renamed(berth, archive, tmp_path: Path):
    (tmp_path / "src" / "inner").mkdir(parents=True)
    (tmp_path / "src" / "inner" / "f").write_bytes(b"F")
    code, _, _ = berth("cp", "-a", str(tmp_path / "src"), "web:/tmp/newname")
    assert code == 0
    put = archive.find("PUT", "/archive")
    assert put.query["path"] == ["/tmp"] and put.query["copyUIDGID"] == ["1"]
    assert names_in(archive.uploaded) == {"newname": None, "newname/inner": None,
                                         "newname/inner/f": b"F"}


def test_large_file_streams_to_container(berth, archive, tmp_path: Path):
    src = tmp_path / "big"
    with src.open("wb") as fh:
        for i in range(64):
            fh.write(bytes([i]) * 65536)
    assert berth("cp", str(src), "web:/srv")[0] == 0
    assert names_in(archive.uploaded)["big"] == src.read_bytes()
    put = archive.find("PUT", "/archive")
    assert put.headers.get("Transfer-Encoding") == "chunked"


def test_missing_local_source(berth, archive, tmp_path: Path):
    code, _, err = berth("cp", str(tmp_path / "nope"), "web:/srv")
    assert (code, err) == (1, f"lstat {tmp_path / 'nope'}: no such file or directory\n")


def test_tar_from_stdin_needs_a_directory(berth, archive, monkeypatch):
    data = tar_of([("x", b"X")])
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert berth("cp", "-", "web:/srv")[0] == 0
    assert archive.uploaded == data
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, _, err = berth("cp", "-", "web:/etc/hello.txt")
    assert (code, err) == (1, 'destination "web:/etc/hello.txt" must be a directory\n')


def test_stat_header_decodes():
    from berth.client.archive import PathStat

    header = base64.b64encode(json.dumps(stat("d", DIR | 0o755)).encode()).decode()
    parsed = PathStat.from_header(header)
    assert parsed.is_dir and not parsed.is_symlink and parsed.name == "d"


def test_local_symlink_sent_as_link_or_followed_with_L(berth, archive, tmp_path: Path):
    (tmp_path / "real.txt").write_bytes(b"real")
    (tmp_path / "alias").symlink_to("real.txt")
    assert berth("cp", str(tmp_path / "alias"), "web:/srv")[0] == 0
    with tarfile.open(fileobj=io.BytesIO(archive.uploaded)) as tar:
        [member] = tar.getmembers()
    assert (member.name, member.issym(), member.linkname) == ("alias", True, "real.txt")
    assert berth("cp", "-L", str(tmp_path / "alias"), "web:/srv")[0] == 0
    assert names_in(archive.uploaded) == {"alias": b"real"}


def test_file_over_existing_file_and_directory_contents(berth, archive, tmp_path: Path):
    (tmp_path / "old.txt").write_bytes(b"old contents")
    assert berth("cp", "web:/etc/hello.txt", str(tmp_path / "old.txt"))[0] == 0
    assert (tmp_path / "old.txt").read_bytes() == b"hello"
    assert berth("cp", "web:/data/.", str(tmp_path))[0] == 0  # the contents, not the dir
    assert (tmp_path / "a").read_bytes() == b"A"
    assert berth("cp", "web:/data/.", str(tmp_path / "fresh"))[0] == 0
    assert (tmp_path / "fresh" / "a").read_bytes() == b"A"


def test_device_destination_refused_as_docker(berth, archive, tmp_path: Path):
    (tmp_path / "f").write_bytes(b"f")
    code, _, err = berth("cp", str(tmp_path / "f"), "web:/dev/null")
    assert (code, err) == (1, 'destination "web:/dev/null" must be a directory or a '
                              "regular file: got a device\n")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_as_docker(archive, tmp_path: Path):
    from berth.cli.command import Context
    from berth.cli.main import dispatch

    err = _Terminal()
    ctx = Context(f"unix://{tmp_path / 'berth.sock'}", "1.45", stdout=_Terminal(),
                  stderr=err)
    assert dispatch(ctx, ["cp", "web:/etc/hello.txt", str(tmp_path / "x")]) == 0
    text = err.getvalue()
    assert text.startswith("\x1b[sPreparing to copy...\x1b[?25l\x1b[u\x1b[2K"
                           "Copying from container - 0B")
    assert text.endswith(f"\x1b[?25h\x1b[u\x1b[2KSuccessfully copied 10.2kB to "
                         f"{tmp_path / 'x'}\n")


def test_tar_stream_hands_big_blocks_and_stops_when_the_reader_does(tmp_path: Path):
    from berth.cli.copyarchive import source_info, tar_stream

    src = tmp_path / "d"
    src.mkdir()
    (src / "big").write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    (src / "small").write_bytes(b"s")
    blocks, finish = tar_stream(source_info(str(src), False), None)
    data = list(blocks)
    finish()
    assert max(len(b) for b in data) == 1 << 20  # a file's data in 1 MiB blocks, as read
    with tarfile.open(fileobj=io.BytesIO(b"".join(data))) as tf:
        assert tf.extractfile("d/big").read() == (src / "big").read_bytes()  # type: ignore[union-attr]
        assert tf.getnames() == ["d", "d/big", "d/small"]
    blocks, finish = tar_stream(source_info(str(src), False), None)
    next(blocks)
    blocks.close()  # the daemon refused: the writer stops instead of waiting forever
    finish()
