"""Directory trees written for tests: build contexts, layer directories, COPY sources."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def write(root: Path, rel: str, content: bytes = b"x", mode: int = 0o644) -> Path:
    """The file ``root/rel`` (parents made as needed) holding ``content``, with ``mode``."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.chmod(path, mode)
    return path


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Every file of ``files`` (name -> text or bytes) under ``root``; returns ``root``."""
    for name, body in files.items():
        write(root, name, body.encode() if isinstance(body, str) else body)
    return root
