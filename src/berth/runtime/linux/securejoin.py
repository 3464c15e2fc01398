"""Resolve a container path inside the rootfs without escaping it (runc's ``securejoin``).

An image controls its own symlinks: ``/etc/hostname -> /etc/passwd`` or
``/dev -> /../../host`` must resolve *inside* the rootfs, never on the host, or a bind mount
would land on a host file. Symlinks are expanded component by component with the rootfs as
``/``; ``..`` never climbs above it.
"""

from __future__ import annotations

import os

_MAX_SYMLINKS = 255


def secure_join(root: str, unsafe_path: str) -> str:
    """The host path of ``unsafe_path`` interpreted with ``root`` as the filesystem root.

    Components that do not exist yet are appended lexically (they cannot be symlinks)."""
    root = os.path.abspath(root)
    pending = [c for c in unsafe_path.split("/") if c not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            target = os.readlink(candidate)
        except OSError:  # not a symlink, or missing: take it literally
            resolved.append(part)
            continue
        links += 1
        if links > _MAX_SYMLINKS:
            raise OSError(40, "too many levels of symbolic links", unsafe_path)
        if target.startswith("/"):
            resolved = []
        pending = [c for c in target.split("/") if c not in ("", ".")] + pending
    return os.path.join(root, *resolved)
