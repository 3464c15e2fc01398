"""The Debian mirror the host's apt already uses, so ``image bootstrap debian`` fetches
from the same place (a local mirror, a proxy, a snapshot) rather than the internet.

Both apt formats are read: one-line ``deb [opts] URI SUITE COMPONENT...`` entries in
``sources.list`` and ``sources.list.d/*.list``, and deb822 paragraphs (``Types:``,
``URIs:``, ``Suites:``, ``Enabled:``) in ``sources.list.d/*.sources``. A source counts
only if it is a ``deb`` source of a Debian archive suite (so neither ``-security`` nor
a third-party repository is taken); one that carries the requested suite wins.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from berth.errors import InvalidArgument

log = logging.getLogger(__name__)

APT_ETC = Path("/etc/apt")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
_SCHEMES = ("http://", "https://", "file:/")
_DEBIAN_SUITES = frozenset({
    "stretch", "buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid",
    "oldoldstable", "oldstable", "stable", "testing", "unstable", "experimental",
})


@dataclass(frozen=True)
class AptSource:
    uris: tuple[str, ...]
    suites: tuple[str, ...]


def check_mirror(url: str) -> str:
    """A mirror URL as debootstrap takes it, without a trailing slash."""
    if not url.startswith(_SCHEMES) or any(c.isspace() for c in url):
        raise InvalidArgument(
            f"invalid Debian mirror {url!r}: expected an http://, https:// or file:/ URL")
    return url.rstrip("/")


def parse_one_line(text: str) -> list[AptSource]:
    """``deb [arch=amd64 signed-by=...] http://deb.debian.org/debian bookworm main``."""
    out = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) < 3 or words[0] != "deb":
            continue
        rest = words[1:]
        if rest[0].startswith("["):  # options, which may hold spaces: up to the "]"
            while rest and not rest[0].endswith("]"):
                rest = rest[1:]
            rest = rest[1:]
        if len(rest) >= 2:
            out.append(AptSource(uris=(rest[0],), suites=(rest[1],)))
    return out


def parse_deb822(text: str) -> list[AptSource]:
    out = []
    for paragraph in _paragraphs(text):
        if "deb" not in paragraph.get("types", "").split():
            continue
        if paragraph.get("enabled", "yes").strip().lower() == "no":
            continue
        out.append(AptSource(uris=tuple(paragraph.get("uris", "").split()),
                             suites=tuple(paragraph.get("suites", "").split())))
    return out


def _paragraphs(text: str) -> list[dict[str, str]]:
    paragraphs: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                paragraphs.append(current)
            current, key = {}, ""
        elif line[0].isspace() and key:  # a continuation line
            current[key] += " " + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            key = name.strip().lower()
            current[key] = value.strip()
    if current:
        paragraphs.append(current)
    return paragraphs


def host_sources(etc: Path = APT_ETC) -> list[AptSource]:
    files = [etc / "sources.list"]
    parts = etc / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    out: list[AptSource] = []
    for path in files:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue  # a missing sources.list is normal on deb822-only hosts
        out += parse_deb822(text) if path.suffix == ".sources" else parse_one_line(text)
    return out


def host_mirror(suite: str, etc: Path = APT_ETC) -> str:
    """The host's Debian mirror for ``suite``, else ``DEFAULT_MIRROR``."""
    debian = [s for s in host_sources(etc) if set(s.suites) & (_DEBIAN_SUITES | {suite})]
    debian.sort(key=lambda s: suite not in s.suites)  # stable: file order otherwise
    for source in debian:
        for uri in source.uris:
            if uri.startswith(_SCHEMES):
                log.debug("bootstrap mirror from the host's apt sources: %s", uri)
                return uri.rstrip("/")
    return DEFAULT_MIRROR
