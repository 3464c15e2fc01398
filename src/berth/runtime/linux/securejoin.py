"""Resolve a container path inside the rootfs without escaping it (runc's ``securejoin``).

An image controls its own symlinks: ``/etc/hostname -> /etc/passwd`` or
``/dev -> /../../host`` must resolve *inside* the rootfs, never on the host, or a bind mount
would land on a host file. Symlinks are expanded component by component with the rootfs as
``/``; ``..`` never climbs above it.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

_MAX_SYMLINKS = 255


def _components(path: str) -> list[str]:
    return [c for c in path.split("/") if c not in ("", ".")]


def resolve_links(unsafe_path: str, readlink: Callable[[list[str]], str | None],
                  follow_final: bool = True) -> list[str]:
    """The components of ``unsafe_path`` with its symlinks expanded inside the root.

    ``readlink(components)`` is the target of the symlink at ``components`` (relative to
    the root), or None where there is none: a component that is not a link, or does not
    exist yet, is taken literally. With ``follow_final`` false the last component is not
    followed (``lstat`` rather than ``stat``)."""
    pending = _components(unsafe_path)
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = [*resolved, part]
        target = readlink(candidate) if pending or follow_final else None
        if target is None:
            resolved = candidate
            continue
        links += 1
        if links > _MAX_SYMLINKS:
            raise OSError(errno.ELOOP, "too many levels of symbolic links", unsafe_path)
        if target.startswith("/"):
            resolved = []
        pending = _components(target) + pending
    return resolved


def secure_join(root: str, unsafe_path: str) -> str:
    """The host path of ``unsafe_path`` interpreted with ``root`` as the filesystem root.

    Components that do not exist yet are appended lexically (they cannot be symlinks)."""
    root = os.path.abspath(root)

    def readlink(components: list[str]) -> str | None:
        try:
            return os.readlink(os.path.join(root, *components))
        except OSError:  # not a symlink, or missing: take it literally
            return None

    return os.path.join(root, *resolve_links(unsafe_path, readlink))
