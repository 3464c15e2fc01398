from pathlib import Path

import pytest

from berth.engine.images.apt_sources import (
    DEFAULT_MIRROR,
    AptSource,
    check_mirror,
    host_mirror,
    parse_deb822,
    parse_one_line,
)
from berth.errors import InvalidArgument

DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb deb-src
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: http://disabled.example/debian
Suites: trixie
Enabled: no
"""


def test_one_line_with_options_and_comments() -> None:
    text = ("# deb http://commented.example/debian bookworm main\n"
            "deb-src http://src.example/debian bookworm main\n"
            "deb [ arch=amd64 signed-by=/k.gpg ] http://opt.example/debian/ trixie main\n"
            "deb http://plain.example/debian bookworm main # trailing\n")
    assert parse_one_line(text) == [
        AptSource(("http://opt.example/debian/",), ("trixie",)),
        AptSource(("http://plain.example/debian",), ("bookworm",)),
    ]


def test_deb822_skips_disabled() -> None:
    assert parse_deb822(DEB822) == [
        AptSource(("http://mirror.example/debian",), ("bookworm", "bookworm-updates")),
        AptSource(("http://security.example/debian-security",), ("bookworm-security",)),
    ]


def _etc(tmp_path: Path, one_line: str = "", deb822: str = "") -> Path:
    (tmp_path / "sources.list.d").mkdir()
    if one_line:
        (tmp_path / "sources.list").write_text(one_line)
    if deb822:
        (tmp_path / "sources.list.d/debian.sources").write_text(deb822)
    (tmp_path / "sources.list.d/node.sources").write_text(
        "Types: deb\nURIs: https://third.example/node\nSuites: nodistro\n")
    return tmp_path


def test_host_mirror_prefers_the_requested_suite(tmp_path: Path) -> None:
    etc = _etc(tmp_path, "deb http://old.example/debian/ bullseye main\n", DEB822)
    assert host_mirror("bookworm", etc) == "http://mirror.example/debian"
    assert host_mirror("bullseye", etc) == "http://old.example/debian"
    assert host_mirror("sid", etc) == "http://old.example/debian"  # any Debian archive


def test_host_mirror_falls_back(tmp_path: Path) -> None:
    assert host_mirror("bookworm", _etc(tmp_path)) == DEFAULT_MIRROR  # only third-party
    assert host_mirror("bookworm", tmp_path / "missing") == DEFAULT_MIRROR


def test_check_mirror() -> None:
    assert check_mirror("http://m.example/debian/") == "http://m.example/debian"
    assert check_mirror("file:///srv/mirror") == "file:///srv/mirror"
    for bad in ("ftp://m/debian", "m.example/debian", "http://m/ debian"):
        with pytest.raises(InvalidArgument, match="invalid Debian mirror"):
            check_mirror(bad)
