"""The real ContainerService with the network and volume preparers and the real
VolumeService, put together as ``daemon.serve`` does (harness.py's engine with volumes),
for the engine's volume tests; and ``volimg``, busybox with a ``VOLUME``.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from tests.integration.engine import harness
from tests.integration.engine.harness import Engine, images_of

from berth.engine.builder.commit import Committer
from berth.oci import reference
from berth.store.metadata.db import Database

__all__ = ["IMAGE", "Engine", "engine", "image_with_volume"]

IMAGE = "volimg:latest"


async def image_with_volume(root: Path) -> None:
    """volimg: busybox plus /seeded/hello (owned 1000:1000, dir mode 0750),
    ``VOLUME /seeded``, and two links that point out of the root if followed on the host:
    /escape → <root>/hostside (absolute) and /up → ../../../../../../.. ."""
    db = Database(root / "data" / "metadata.db")
    try:
        images = images_of(root, db)
        committer = Committer(images)
        base = committer.load((await images.get("busybox")).id)
        upper = Path(tempfile.mkdtemp(dir=root))
        (upper / "seeded").mkdir(mode=0o750)
        os.chmod(upper / "seeded", 0o750)
        (upper / "seeded" / "hello").write_text("from the image\n")
        os.chown(upper / "seeded", 1000, 1000)
        os.chown(upper / "seeded" / "hello", 1000, 1000)
        (root / "hostside").mkdir(exist_ok=True)
        os.symlink(root / "hostside", upper / "escape")
        os.symlink("../" * 7, upper / "up")
        layer = committer.layer_from_upper(upper, base)
        config = dict(base.config["config"])
        config["Volumes"] = {"/seeded": {}}
        image = committer.commit(base, config, "VOLUME /seeded", layer)  # type: ignore[arg-type]
        images.set_tag(reference.parse(IMAGE), image.id)
    finally:
        db.close()


def engine(root: Path) -> AbstractAsyncContextManager[Engine]:
    """The services with the network and volume preparers; every container and volume
    removed when it closes."""
    return harness.engine(root, volumes=True)
