"""``.dockerignore``: which build-context paths stay out (moby ``patternmatcher``).

Reading (``ignorefile.ReadAll``): a line *starting* with ``#`` is a comment; others are
trimmed, blank ones skipped, ``!`` marks an exception, and the pattern is
``filepath.Clean``-ed with one leading ``/`` dropped (paths are relative to the context).

Matching (``MatchesOrParentMatches``): every pattern is tried in order and the last one
that matches wins; a pattern also matches a path when it matches one of its parent
directories (``build`` excludes ``build/a/b``). In a pattern ``*`` and ``?`` never cross
``/``, ``[...]`` is a class, ``\\`` escapes, and ``**`` spans any number of directories
(``**/*.go``, ``a/**/b``).

Docker sends the Dockerfile and ``.dockerignore`` even when a pattern excludes them
(the CLI appends ``!Dockerfile`` and ``!.dockerignore``): :meth:`DockerIgnore.for_build`.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence

from berth.errors import InvalidArgument

_REGEX_SPECIAL = frozenset(".+()|{}$")


def clean(path: str) -> str:
    """Go's ``filepath.Clean`` for slash-separated paths."""
    cleaned = posixpath.normpath(path) if path else "."
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def read_patterns(content: str | bytes) -> list[str]:
    """The patterns of a ``.dockerignore`` file, normalised as the docker CLI does."""
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    patterns: list[str] = []
    for line in text.removeprefix("\ufeff").split("\n"):
        line = line.removesuffix("\r")
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append(("!" if invert else "") + pattern)
    return patterns


def _translate(pattern: str) -> str:
    """A cleaned pattern as a regex body (patternmatcher's ``compile``)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*" and i < n and pattern[i] == "*":
            i += 1
            if i < n and pattern[i] == "/":
                i += 1
            out.append(".*" if i == n else "(.*/)?")
        elif ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            if i < n:
                out.append(re.escape(pattern[i]))
                i += 1
            else:
                out.append(r"\\")
        elif ch in _REGEX_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


class Pattern:
    """One compiled line (a plain class: the CLI imports this, and ``dataclasses`` would
    cost every ``berth build`` several milliseconds of imports)."""

    __slots__ = ("exclusion", "regex", "text")

    def __init__(self, text: str, exclusion: bool, regex: re.Pattern[str]) -> None:
        self.text = text  # cleaned, without the "!"
        self.exclusion = exclusion  # a "!" exception: re-includes what it matches
        self.regex = regex

    @classmethod
    def compile(cls, raw: str) -> Pattern | None:
        text = raw.strip()
        if not text:
            return None
        text = clean(text)
        exclusion = text.startswith("!")
        if exclusion:
            if text == "!":
                raise InvalidArgument('illegal exclusion pattern: "!"')
            text = text[1:]
        try:
            regex = re.compile(_translate(text), re.DOTALL)
        except re.error:
            raise InvalidArgument("syntax error in pattern") from None
        return cls(text, exclusion, regex)

    def match(self, path: str) -> bool:
        return self.regex.fullmatch(path) is not None

    def matches_or_parent(self, path: str) -> bool:
        if self.match(path):
            return True
        parts = path.split("/")[:-1]
        return any(self.match("/".join(parts[:i])) for i in range(1, len(parts) + 1))


class DockerIgnore:
    """A compiled ``.dockerignore``: ``match(path)`` is True when the path is excluded."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns: tuple[Pattern, ...] = tuple(
            p for raw in patterns if (p := Pattern.compile(raw)) is not None)

    @classmethod
    def parse(cls, content: str | bytes) -> DockerIgnore:
        return cls(read_patterns(content))

    def for_build(self, dockerfile: str = "Dockerfile") -> DockerIgnore:
        """This matcher, but never excluding the Dockerfile or ``.dockerignore`` itself."""
        extra = [f"!{name}" for name in (clean(dockerfile).lstrip("/"), ".dockerignore")
                 if self.match(name)]
        return DockerIgnore([*(self._raw()), *extra])

    def _raw(self) -> list[str]:
        return [("!" if p.exclusion else "") + p.text for p in self.patterns]

    def match(self, path: str) -> bool:
        """Whether ``path`` (relative to the context, ``/``-separated) is excluded."""
        return self._last_match(clean(path).lstrip("/"))[0]

    def _last_match(self, path: str) -> tuple[bool, int]:
        """(excluded, index of the pattern that decided it, or -1)."""
        excluded, decided = False, -1
        for index, pattern in enumerate(self.patterns):
            if pattern.exclusion != excluded:
                continue  # cannot change the outcome
            if pattern.matches_or_parent(path):
                excluded, decided = not pattern.exclusion, index
        return excluded, decided

    def must_descend(self, directory: str) -> bool:
        """Whether a context walk must enter ``directory``.

        True when the directory is not excluded, or when an exception listed after the
        pattern that excludes it could match something inside. Patterns are compared
        component by component and ``**`` is assumed to match, so the answer may be a
        needless True, never a wrong False: an excluded ``node_modules`` with no later
        exception under it is skipped without walking it.
        """
        path = clean(directory).lstrip("/")
        excluded, decided = self._last_match(path)
        if not excluded:
            return True
        parts = path.split("/")
        return any(p.exclusion and _could_match_inside(p.text.split("/"), parts)
                   for p in self.patterns[decided + 1:])


def _could_match_inside(pattern: Sequence[str], parts: Sequence[str]) -> bool:
    for index, part in enumerate(parts):
        if index == len(pattern):
            return True  # matched an ancestor: the parent rule re-includes everything
        component = pattern[index]
        if "**" in component:
            return True
        try:
            if re.fullmatch(_translate(component), part, re.DOTALL) is None:
                return False
        except re.error:  # a class split by "/" ("[a/b]"): cannot tell, so descend
            return True
    return True
