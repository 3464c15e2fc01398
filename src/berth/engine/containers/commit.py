"""``docker commit``: a container's changes as a new image on top of its own (moby
``daemon/commit.go``), through the builder's committer, the same code a RUN step's layer
goes through::

    container upper dir ──hard-link clone──▶ scratch snapshot
        └─ drop the runtime's mount points (/etc/hosts..., volume targets)
           └─ write_diff ─▶ layer blob ─▶ unpacked on the image's top layer
    config: the request's Config (else the container's), --change applied, then what it
            leaves unset taken from the container's (docker's ``merge``)

The clone never writes the container's own upper dir, which may be running (docker
pauses it by default while committing, so the layer is one consistent moment).
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from berth import errors
from berth.engine.builder.commit import Committer, Layer
from berth.engine.builder.mountpoints import drop_placeholders
from berth.engine.builder.state import BaseImage
from berth.engine.clock import rfc3339
from berth.engine.containers import process
from berth.engine.containers.model import Container, Status
from berth.engine.containers.service import COMMIT_PAUSE_MARKER, ContainerService
from berth.engine.images.changes import apply_changes
from berth.engine.images.service import ImageService
from berth.oci.image import ContainerConfig, History, ImageConfig
from berth.oci.reference import Reference, parse_named, parse_repository, validate_tag
from berth.store.diff import OVERLAY_OPAQUE_XATTR
from berth.store.rootview import LayerTree

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class CommitOptions:
    repo: str = ""
    tag: str = ""
    comment: str = ""
    author: str = ""
    pause: bool = True
    changes: tuple[str, ...] = ()
    config: ContainerConfig | None = field(default=None, hash=False)


def reference(repo: str, tag: str) -> Reference | None:
    """docker's ``RepoTagReference``: none without a repo; "latest" without a tag."""
    if not repo:
        return None
    if tag:
        return parse_repository(repo).with_tag(validate_tag(tag))
    return parse_named(repo).with_default_tag()


def container_config(c: Container, image: ContainerConfig) -> ContainerConfig:
    """What the container runs with, as an image config's ``config``."""
    out = ContainerConfig(**image)
    out["Env"] = list(process.config_env(c))
    out["Cmd"] = list(c.cmd) if c.cmd is not None else None
    out["Entrypoint"] = list(c.entrypoint) if c.entrypoint is not None else None
    out["WorkingDir"] = c.working_dir
    out["User"] = c.user
    if c.labels:
        out["Labels"] = dict(c.labels)
    ports = dict(image.get("ExposedPorts") or {})
    ports.update({p: {} for p in c.spec.exposed_ports})
    if ports:
        out["ExposedPorts"] = ports
    if c.spec.stop_signal:
        out["StopSignal"] = c.spec.stop_signal
    return out


def merge(user: ContainerConfig, base: ContainerConfig) -> ContainerConfig:
    """docker's ``merge(userConf, imageConf)``: ``user`` with what it leaves unset taken
    from ``base`` (env and labels by key, ports and volumes united)."""
    out = ContainerConfig(**user)
    if not out.get("User"):
        out["User"] = base.get("User", "")
    env = list(out.get("Env") or [])
    keys = {e.partition("=")[0] for e in env}
    env += [e for e in base.get("Env") or [] if e.partition("=")[0] not in keys]
    if env:
        out["Env"] = env
    for key in ("Labels", "ExposedPorts", "Volumes"):
        merged: dict[str, object] = {**cast(dict[str, object], base.get(key) or {}),
                                     **cast(dict[str, object], out.get(key) or {})}
        if merged:
            out[key] = merged  # type: ignore[typeddict-item]
    if not out.get("Entrypoint") and not out.get("Cmd"):
        out["Cmd"] = base.get("Cmd")
        out["Entrypoint"] = base.get("Entrypoint")
    for key in ("Healthcheck", "WorkingDir", "StopSignal", "OnBuild", "Shell"):
        if not out.get(key) and base.get(key):
            out[key] = base[key]  # type: ignore[literal-required]
    return out


def clone_tree(src: Path, dst: Path) -> None:
    """``dst`` (an empty directory) made a copy of ``src``'s tree: directories made anew
    with their mode, owner, mtime and opaque marker, everything else hard-linked (whiteout
    devices too). No link in ``src`` is followed."""
    s, d = os.open(src, _DIR), os.open(dst, _DIR)
    try:
        _clone_level(s, d)
    finally:
        os.close(s)
        os.close(d)


def _clone_level(src: int, dst: int) -> None:
    dirs: list[tuple[str, os.stat_result]] = []
    with os.scandir(src) as it:
        for e in it:
            st = e.stat(follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                os.link(e.name, e.name, src_dir_fd=src, dst_dir_fd=dst, follow_symlinks=False)
                continue
            os.mkdir(e.name, 0o700, dir_fd=dst)
            dirs.append((e.name, st))
    for name, st in dirs:
        s = os.open(name, _DIR, dir_fd=src)
        try:
            d = os.open(name, _DIR, dir_fd=dst)
            try:
                _clone_level(s, d)
                if os.geteuid() == 0:
                    os.fchown(d, st.st_uid, st.st_gid)
                os.fchmod(d, stat.S_IMODE(st.st_mode))
                try:
                    if os.getxattr(s, OVERLAY_OPAQUE_XATTR) == b"y":
                        os.setxattr(d, OVERLAY_OPAQUE_XATTR, b"y")
                except OSError:
                    pass  # not opaque
                os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns))
            finally:
                os.close(d)
        finally:
            os.close(s)


class ContainerCommitter:
    """``POST /commit``."""

    def __init__(self, containers: ContainerService, images: ImageService) -> None:
        self._containers = containers
        self._images = images
        self._committer = Committer(images)

    async def commit(self, ref: str, options: CommitOptions) -> str:
        """The new image's id; pauses a running container meanwhile unless told not to."""
        c = self._containers.get(ref)
        target = reference(options.repo, options.tag)
        paused = options.pause and c.state.status is Status.RUNNING
        # the marker outlives a daemon killed while the container is frozen: the next
        # start thaws it (ContainerService.restore)
        marker = self._containers.data_dir(c.id) / COMMIT_PAUSE_MARKER
        if paused:
            marker.touch()
            await self._containers.pause(c.id)
        try:
            image_id = await self._images.locked(lambda: self._commit(c, options, target))
        finally:
            if paused:
                try:
                    await self._containers.unpause(c.id)
                finally:
                    marker.unlink(missing_ok=True)
        self._containers.publish(c, "commit", comment=options.comment,
                                 imageID=image_id, imageRef=target.string() if target else "")
        return image_id

    def _commit(self, c: Container, options: CommitOptions, target: Reference | None) -> str:
        base = self._committer.load(c.image_id)
        image = base.config.get("config") or ContainerConfig()
        current = container_config(c, image)
        user = options.config if options.config is not None else current
        config = merge(apply_changes(user, list(options.changes)), current)
        layer = self._layer(c, base)
        return self._image(base, config, layer, options, c, target)

    def _layer(self, c: Container, base: BaseImage) -> Layer | None:
        tree = LayerTree.from_mounts(self._images.snapshot_mounts(c.id))
        if not (tree.writable and tree.whiteouts):
            raise errors.NotImplemented("berth commit needs the overlay snapshotter (berthd "
                                 "--snapshotter overlay): a native snapshot holds the "
                                 "whole tree, not the container's changes")
        lower = LayerTree(self._committer.layer_dirs(base))
        key, scratch = self._committer.prepare(base)
        try:
            clone_tree(tree.upper, scratch)
            # the runtime's /etc files go (docker keeps them in its init layer); a volume
            # or bind's mount point stays, empty, as in docker's commit
            drop_placeholders(scratch, lower)
            return self._committer.layer_from_upper(scratch, base)
        finally:
            self._committer.discard(key)

    def _image(self, base: BaseImage, container: ContainerConfig, layer: Layer | None,
               options: CommitOptions, c: Container, target: Reference | None) -> str:
        created = rfc3339()
        history = History(created=created, created_by=" ".join(c.cmd or ()))
        if options.author:
            history["author"] = options.author
        if options.comment:
            history["comment"] = options.comment
        if layer is None:
            history["empty_layer"] = True
        config = cast(ImageConfig, json.loads(json.dumps(base.config)))
        config["created"] = created
        config["config"] = container
        if options.author:
            config["author"] = options.author
        config["history"] = [*config.get("history", []), history]
        layers, blobs = list(base.layers), list(base.blobs)
        if layer is not None:
            config["rootfs"]["diff_ids"].append(layer.record.diff_id)
            layers.append(layer.record)
            blobs.append(layer.descriptor)
        record = self._images.create_image(config, blobs, layers,
                                           [target] if target else [], parent=base.id)
        return record.id
