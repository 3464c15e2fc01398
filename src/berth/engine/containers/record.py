"""The record a create makes: the request checked as docker checks it, then merged with
the image's config into a ``Container`` (moby's ``daemon/create.go`` and ``merge``).

    validate(spec, runtime, runtimes)   refusals, before anything is written
    new_container(...)                  argv, Cmd/Entrypoint, labels, env, working dir,
                                        user, hostname, healthcheck, log path
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

from berth.engine import clock
from berth.engine.containers import health, logs, process, resources, restart, security, signals
from berth.engine.containers.model import Container, ContainerSpec
from berth.errors import InvalidArgument
from berth.oci.image import ContainerConfig


def validate(spec: ContainerSpec, runtime: str, runtimes: Collection[str]) -> None:
    """Refuse what docker refuses at create. ``runtime`` must be one of ``runtimes``
    (daemon.py's table) or an absolute path (any runc-compatible binary)."""
    if runtime not in runtimes and not os.path.isabs(runtime):
        raise InvalidArgument(f"unknown or invalid runtime name: {runtime}")
    resources.validate(spec.resources)
    security.validate(spec.security, spec.hostname, spec.network_mode)
    if spec.stop_signal:
        signals.parse(spec.stop_signal)
    restart.validate(spec.restart_policy, spec.auto_remove)
    logs.validate_config(spec.log_config)
    health.validate(spec.healthcheck)


def new_container(cid: str, name: str, spec: ContainerSpec, image_id: str,
                  image: ContainerConfig, runtime: str, data_dir: Path) -> Container:
    """The created container ``cid``: the request over the image's config."""
    spec = replace(spec, healthcheck=health.merge(
        spec.healthcheck, health.from_image(image.get("Healthcheck"))))
    argv = process.command(spec.entrypoint, spec.cmd, image)
    hostname = spec.hostname or cid[:12]
    return Container(
        id=cid, name=name, created=clock.rfc3339(), spec=spec, image_id=image_id,
        path=argv[0], args=argv[1:],
        cmd=spec.cmd if spec.cmd is not None or spec.entrypoint is not None
        else _tuple(image.get("Cmd")),
        entrypoint=spec.entrypoint if spec.entrypoint is not None
        else _tuple(image.get("Entrypoint")),
        labels=tuple({**(image.get("Labels") or {}), **dict(spec.labels)}.items()),
        env=process.environment(image, spec.env, hostname, spec.tty),
        working_dir=process.working_dir(spec.working_dir, image),
        user=spec.user or image.get("User", ""), hostname=hostname, runtime=runtime,
        log_path=str(data_dir / f"{cid}-json.log") if spec.log_config.type != "none" else "",
    )


def _tuple(value: list[str] | None) -> tuple[str, ...] | None:
    return tuple(value) if value is not None else None
