"""``docker import --change`` / ``docker commit --change``: the Dockerfile instructions that
edit an image config without running anything (moby ``builder/dockerfile``
``BuildFromConfig``)."""

from __future__ import annotations

import json
import shlex

from berth.errors import InvalidArgument
from berth.oci.image import ContainerConfig

_SHELL = ["/bin/sh", "-c"]


def _words(args: str) -> list[str]:
    try:
        return shlex.split(args)
    except ValueError as err:
        raise InvalidArgument(f"invalid change arguments {args!r}: {err}") from err


def _json_or_shell(args: str) -> list[str]:
    """The exec (JSON array) or shell form of CMD and ENTRYPOINT."""
    stripped = args.strip()
    if stripped.startswith("["):
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return [*_SHELL, stripped]


def _key_values(instruction: str, args: str) -> list[tuple[str, str]]:
    """``K=V K2="v 2"`` pairs, or the legacy ``K V with spaces`` form."""
    words = _words(args)
    if not words:
        raise InvalidArgument(f"{instruction} requires at least one argument")
    if "=" not in words[0]:
        key, _, value = args.strip().partition(" ")
        if not value.strip():
            raise InvalidArgument(f"{instruction} requires a value for {key}")
        return [(key, value.strip())]
    pairs = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"{instruction} names must be of the form key=value: {word}")
        pairs.append((key, value))
    return pairs


def _json_list_or_words(args: str) -> list[str]:
    stripped = args.strip()
    if stripped.startswith("["):
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as err:
            raise InvalidArgument(f"invalid JSON array: {stripped}") from err
        if isinstance(value, list):
            return [str(v) for v in value]
    return _words(stripped)


def _set_env(config: ContainerConfig, key: str, value: str) -> None:
    env = [e for e in config.get("Env", []) if e.partition("=")[0] != key]
    config["Env"] = [*env, f"{key}={value}"]


def apply_change(config: ContainerConfig, change: str) -> None:
    """Apply one instruction to ``config`` in place."""
    instruction, _, args = change.strip().partition(" ")
    cmd = instruction.upper()
    args = args.strip()
    if cmd == "ENV":
        for key, value in _key_values(cmd, args):
            _set_env(config, key, value)
    elif cmd == "LABEL":
        labels = dict(config.get("Labels", {}))
        labels.update(_key_values(cmd, args))
        config["Labels"] = labels
    elif cmd == "CMD":
        config["Cmd"] = _json_or_shell(args)
    elif cmd == "ENTRYPOINT":
        config["Entrypoint"] = _json_or_shell(args)
    elif cmd == "WORKDIR":
        config["WorkingDir"] = args
    elif cmd == "USER":
        config["User"] = args
    elif cmd == "STOPSIGNAL":
        config["StopSignal"] = args
    elif cmd == "EXPOSE":
        ports = dict(config.get("ExposedPorts", {}))
        for port in _words(args):
            ports[port if "/" in port else f"{port}/tcp"] = {}
        config["ExposedPorts"] = ports
    elif cmd == "VOLUME":
        volumes = dict(config.get("Volumes", {}))
        volumes.update({v: {} for v in _json_list_or_words(args)})
        config["Volumes"] = volumes
    elif cmd == "ONBUILD":
        if not args:
            raise InvalidArgument("ONBUILD requires at least one argument")
        config["OnBuild"] = [*config.get("OnBuild", []), args]
    else:
        raise InvalidArgument(f"{instruction} is not a valid change command")
    if cmd in ("CMD", "ENTRYPOINT", "WORKDIR", "USER", "STOPSIGNAL") and not args:
        raise InvalidArgument(f"{cmd} requires an argument")


def apply_changes(config: ContainerConfig, changes: list[str]) -> ContainerConfig:
    out = ContainerConfig(**config)
    for change in changes:
        if change.strip():
            apply_change(out, change)
    return out
