"""Docker image references: parse, normalise and print them (distribution/reference).

Grammar (the subset Docker accepts)::

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [ domain "/" ] path-component ( "/" path-component )*
    domain     := host [ ":" port ]       a first component with "." or ":" or "localhost"
    tag        := [\\w][\\w.-]{0,127}
    digest     := algorithm ":" hex

Normalisation follows ``ParseNormalizedNamed``: no domain means ``docker.io``, and a
one-component path on ``docker.io`` gains ``library/``. ``familiar()`` undoes both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from berth.errors import InvalidArgument

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|{_IPV6})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_REFERENCE_RE = re.compile(
    rf"^((?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::({_TAG}))?(?:@({_DIGEST}))?$"
)
_TAG_RE = re.compile(rf"^{_TAG}$")
_ANCHORED_ID_RE = re.compile(r"^[a-f0-9]{64}$")


@dataclass(frozen=True)
class Reference:
    """A normalised reference: ``domain`` is never empty, ``path`` includes ``library/``."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """The full repository name, ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    def familiar_name(self) -> str:
        """The repository as users write it, ``busybox`` or ``localhost:5000/a/b``."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        path = self.path
        if path.startswith(OFFICIAL_REPO_PREFIX) and "/" not in path[len(OFFICIAL_REPO_PREFIX):]:
            return path[len(OFFICIAL_REPO_PREFIX):]
        return path

    def _suffix(self) -> str:
        out = f":{self.tag}" if self.tag is not None else ""
        return out + (f"@{self.digest}" if self.digest is not None else "")

    def familiar(self) -> str:
        return self.familiar_name() + self._suffix()

    def string(self) -> str:
        return self.name + self._suffix()

    def with_tag(self, tag: str) -> Reference:
        if not _TAG_RE.match(tag):
            raise InvalidArgument(f"invalid tag format: {tag!r}")
        return replace(self, tag=tag, digest=None)

    def with_default_tag(self) -> Reference:
        """``busybox`` → ``busybox:latest``; references with a tag or digest are kept."""
        if self.tag is None and self.digest is None:
            return replace(self, tag=DEFAULT_TAG)
        return self

    def __str__(self) -> str:
        return self.string()


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost"
                   and first.lower() == first):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = first, rest
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def parse(text: str) -> Reference:
    """Parse and normalise a reference as ``docker pull``/``tag`` accept it.

    Raises InvalidArgument with Docker's wording for malformed or upper-case names.
    """
    if _ANCHORED_ID_RE.match(text):
        raise InvalidArgument(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    match = _REFERENCE_RE.match(text)
    if match is None:
        name = text.split("@", 1)[0].rsplit(":", 1)[0] if text else text
        if name and name != name.lower() and _REFERENCE_RE.match(_lower_path(text)):
            raise InvalidArgument("invalid reference format: repository name must be lowercase")
        raise InvalidArgument("invalid reference format")
    name, tag, digest = match.group(1), match.group(2), match.group(3)
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidArgument(
            f"invalid reference format: repository name (must be less than "
            f"{NAME_TOTAL_LENGTH_MAX} characters)"
        )
    domain, path = _split_domain(name)
    if path != path.lower():
        raise InvalidArgument("invalid reference format: repository name must be lowercase")
    return Reference(domain=domain, path=path, tag=tag, digest=digest)


def _lower_path(text: str) -> str:
    """``text`` with the repository path lower-cased, to tell "must be lowercase" apart from
    other malformations (the domain may legitimately be upper-case)."""
    name, at, digest = text.partition("@")
    head, colon, tag = name.rpartition(":")
    if not colon or "/" in tag:
        head, tag = name, ""
    first, sep, rest = head.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        head = first + "/" + rest.lower()
    else:
        head = head.lower()
    return head + (":" + tag if tag else "") + (at + digest)


def parse_named(text: str) -> Reference:
    """Parse a reference and give it the default tag ``latest`` if it has none."""
    return parse(text).with_default_tag()


def parse_repository(text: str) -> Reference:
    """Parse a repository name without tag or digest (``docker tag SRC REPO TAG``)."""
    ref = parse(text)
    if ref.tag is not None or ref.digest is not None:
        raise InvalidArgument("invalid reference format")
    return ref


def validate_tag(tag: str) -> str:
    if not _TAG_RE.match(tag):
        raise InvalidArgument(f"invalid tag format: {tag!r}")
    return tag
