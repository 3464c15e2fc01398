"""Container documents on the wire: the create request in, inspect and list out.

Docker's PascalCase shapes live here and in the client only; below this line the engine
sees ``ContainerSpec`` and returns ``Container``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from berth.engine import clock
from berth.engine.containers.model import (
    Container,
    ContainerSpec,
    Health,
    Healthcheck,
    LogConfig,
    Resources,
    RestartPolicy,
    State,
    Status,
)
from berth.errors import InvalidArgument
from berth.formats.units import human_duration


def _strings(value: Any, field: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,) if field == "Entrypoint" else ("/bin/sh", "-c", value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise InvalidArgument(f"invalid {field}: expected a list of strings")


def _int(host: dict[str, Any], key: str) -> int:
    value = host.get(key) or 0
    if not isinstance(value, int):
        raise InvalidArgument(f"invalid HostConfig.{key}: {value!r}")
    return value


def spec_from_create(body: dict[str, Any]) -> ContainerSpec:
    image = body.get("Image")
    if not image or not isinstance(image, str):
        raise InvalidArgument("config cannot be empty in order to create a container")
    host: dict[str, Any] = body.get("HostConfig") or {}
    nano_cpus, quota = _int(host, "NanoCpus"), _int(host, "CpuQuota")
    if nano_cpus and (quota or _int(host, "CpuPeriod")):
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    ncpu = os.cpu_count() or 1
    if nano_cpus < 0 or nano_cpus > ncpu * 10**9:
        raise InvalidArgument(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only "
                              f"{ncpu} CPUs available")
    log_cfg = host.get("LogConfig") or {}
    restart = host.get("RestartPolicy") or {}
    log_type = log_cfg.get("Type") or "json-file"
    if log_type not in ("json-file", "none", "local"):
        raise InvalidArgument(f'failed to create logger: logger: no log driver named '
                              f"'{log_type}' is registered")
    pids = host.get("PidsLimit")
    return ContainerSpec(
        image=image,
        cmd=_strings(body.get("Cmd"), "Cmd"),
        entrypoint=_strings(body.get("Entrypoint"), "Entrypoint"),
        env=tuple(body.get("Env") or ()),
        working_dir=body.get("WorkingDir") or "",
        user=body.get("User") or "",
        hostname=body.get("Hostname") or "",
        domainname=body.get("Domainname") or "",
        labels=tuple((body.get("Labels") or {}).items()),
        tty=bool(body.get("Tty")),
        open_stdin=bool(body.get("OpenStdin")),
        stdin_once=bool(body.get("StdinOnce")),
        attach_stdin=bool(body.get("AttachStdin")),
        attach_stdout=bool(body.get("AttachStdout")),
        attach_stderr=bool(body.get("AttachStderr")),
        stop_signal=body.get("StopSignal") or "",
        stop_timeout=body.get("StopTimeout"),
        auto_remove=bool(host.get("AutoRemove")),
        runtime=host.get("Runtime") or "",
        resources=Resources(
            memory=_int(host, "Memory"), memory_swap=_int(host, "MemorySwap"),
            memory_reservation=_int(host, "MemoryReservation"), nano_cpus=nano_cpus,
            cpu_shares=_int(host, "CpuShares"), cpu_quota=quota,
            cpu_period=_int(host, "CpuPeriod"), pids_limit=pids if isinstance(pids, int) else 0),
        log_config=LogConfig(type=log_type,
                             options=tuple((log_cfg.get("Config") or {}).items())),
        restart_policy=RestartPolicy(name=restart.get("Name") or "no",
                                     maximum_retry_count=restart.get("MaximumRetryCount") or 0),
        readonly_rootfs=bool(host.get("ReadonlyRootfs")),
        network_mode=host.get("NetworkMode") or "none",
        healthcheck=_healthcheck(body.get("Healthcheck")),
        init=bool(host.get("Init")),
    )


def _healthcheck(value: Any) -> Healthcheck | None:
    """Config.Healthcheck (docker run --health-*; durations in nanoseconds)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidArgument("invalid Healthcheck: expected an object")
    test = value.get("Test") or []
    if not isinstance(test, list) or not all(isinstance(t, str) for t in test):
        raise InvalidArgument("invalid Healthcheck.Test: expected a list of strings")
    fields = {}
    for key in ("Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"):
        number = value.get(key) or 0
        if not isinstance(number, int):
            raise InvalidArgument(f"invalid Healthcheck.{key}: {number!r}")
        fields[key] = number
    return Healthcheck(test=tuple(test), interval=fields["Interval"],
                       timeout=fields["Timeout"], start_period=fields["StartPeriod"],
                       start_interval=fields["StartInterval"], retries=fields["Retries"])


def _healthcheck_json(hc: Healthcheck) -> dict[str, Any]:
    out: dict[str, Any] = {"Test": list(hc.test)}
    for key, value in (("Interval", hc.interval), ("Timeout", hc.timeout),
                       ("StartPeriod", hc.start_period),
                       ("StartInterval", hc.start_interval), ("Retries", hc.retries)):
        if value:  # omitempty, as docker's HealthConfig
            out[key] = value
    return out


def _health_json(h: Health) -> dict[str, Any]:
    return {"Status": h.status, "FailingStreak": h.failing_streak,
            "Log": [{"Start": p.start, "End": p.end, "ExitCode": p.exit_code,
                     "Output": p.output} for p in h.log]}


def _host_config(c: Container) -> dict[str, Any]:
    s, r = c.spec, c.spec.resources
    return {
        "AutoRemove": s.auto_remove, "Runtime": c.runtime, "NetworkMode": s.network_mode,
        "Memory": r.memory, "MemorySwap": r.memory_swap,
        "MemoryReservation": r.memory_reservation, "NanoCpus": r.nano_cpus,
        "CpuShares": r.cpu_shares, "CpuQuota": r.cpu_quota, "CpuPeriod": r.cpu_period,
        "PidsLimit": r.pids_limit or None, "ReadonlyRootfs": s.readonly_rootfs,
        "LogConfig": {"Type": s.log_config.type, "Config": dict(s.log_config.options)},
        "RestartPolicy": {"Name": s.restart_policy.name,
                          "MaximumRetryCount": s.restart_policy.maximum_retry_count},
        "Binds": None, "PortBindings": {}, "Privileged": False, "CapAdd": None,
        "CapDrop": None, "Init": True if s.init else None, "ShmSize": 67108864,
        "ConsoleSize": [0, 0],
    }


def inspect(c: Container, data_root: str, exec_ids: list[str] | None = None
            ) -> dict[str, Any]:
    st = c.state
    base = f"{data_root}/containers/{c.id}"
    config: dict[str, Any] = {
        "Hostname": c.hostname, "Domainname": c.spec.domainname, "User": c.spec.user,
        "AttachStdin": c.spec.attach_stdin, "AttachStdout": c.spec.attach_stdout,
        "AttachStderr": c.spec.attach_stderr, "Tty": c.spec.tty,
        "OpenStdin": c.spec.open_stdin, "StdinOnce": c.spec.stdin_once, "Env": list(c.env),
        "Cmd": list(c.cmd) if c.cmd is not None else None, "Image": c.spec.image,
        "Volumes": None, "WorkingDir": c.working_dir if c.working_dir != "/" else "",
        "Entrypoint": list(c.entrypoint) if c.entrypoint is not None else None,
        "OnBuild": None, "Labels": dict(c.labels),
    }
    if c.spec.healthcheck is not None:
        config["Healthcheck"] = _healthcheck_json(c.spec.healthcheck)
    if c.spec.stop_signal:
        config["StopSignal"] = c.spec.stop_signal
    if c.spec.stop_timeout is not None:
        config["StopTimeout"] = c.spec.stop_timeout
    return {
        "Id": c.id, "Created": c.created, "Path": c.path, "Args": list(c.args),
        "State": {
            "Status": st.status.value,
            "Running": st.running or st.status == Status.RESTARTING,  # as docker's
            "Paused": st.status == Status.PAUSED, "Restarting": st.status == Status.RESTARTING,
            "OOMKilled": st.oom_killed, "Dead": st.status == Status.DEAD, "Pid": st.pid,
            "ExitCode": st.exit_code, "Error": st.error, "StartedAt": st.started_at,
            "FinishedAt": st.finished_at,
            **({"Health": _health_json(st.health)} if st.health is not None else {}),
        },
        "Image": c.image_id, "ResolvConfPath": f"{base}/resolv.conf",
        "HostnamePath": f"{base}/hostname", "HostsPath": f"{base}/hosts",
        "LogPath": c.log_path, "Name": "/" + c.name, "RestartCount": c.restart_count,
        "Driver": "overlay", "Platform": "linux", "MountLabel": "", "ProcessLabel": "",
        "AppArmorProfile": "", "ExecIDs": exec_ids or None, "HostConfig": _host_config(c),
        "GraphDriver": {"Name": "overlay", "Data": None}, "Mounts": [], "Config": config,
        "NetworkSettings": {"Bridge": "", "SandboxID": "", "SandboxKey": "", "Ports": {},
                            "Networks": {}},
    }


def status_text(c: Container) -> str:
    st = c.state
    now = time.time()
    if st.status == Status.RUNNING:
        return f"Up {human_duration(now - clock.parse(st.started_at))}{_health_suffix(st)}"
    if st.status == Status.RESTARTING:
        return (f"Restarting ({st.exit_code}) "
                f"{human_duration(now - clock.parse(st.finished_at))} ago")
    if st.status == Status.PAUSED:
        return f"Up {human_duration(now - clock.parse(st.started_at))} (Paused)"
    if st.status == Status.EXITED:
        return f"Exited ({st.exit_code}) {human_duration(now - clock.parse(st.finished_at))} ago"
    if st.status == Status.REMOVING:
        return "Removal In Progress"
    if st.status == Status.DEAD:
        return "Dead"
    return "Created"


def _health_suffix(st: State) -> str:
    """docker ps: " (healthy)", " (unhealthy)", " (health: starting)"."""
    if st.health is None:
        return ""
    if st.health.status == "starting":
        return " (health: starting)"
    return f" ({st.health.status})"


def summary(c: Container) -> dict[str, Any]:
    return {
        "Id": c.id, "Names": ["/" + c.name], "Image": c.spec.image, "ImageID": c.image_id,
        "Command": " ".join([c.path, *c.args]), "Created": int(clock.parse(c.created)),
        "Ports": [], "Labels": dict(c.labels), "State": c.state.status.value,
        "Status": status_text(c), "HostConfig": {"NetworkMode": c.spec.network_mode},
        "NetworkSettings": {"Networks": {}}, "Mounts": [],
    }


def matches(c: Container, filters: dict[str, list[str]]) -> bool:
    """docker ps filters: id, name, label, status, exited, ancestor."""
    checks: dict[str, Callable[[str], bool]] = {
        "id": lambda v: c.id.startswith(v),
        "name": lambda v: v.lstrip("/") in c.name,
        "status": lambda v: c.state.status.value == v,
        "exited": lambda v: c.state.status == Status.EXITED and str(c.state.exit_code) == v,
        "ancestor": lambda v: v in (c.spec.image, c.image_id) or c.image_id.startswith(
            "sha256:" + v),
        "label": lambda v: (dict(c.labels).get(v.partition("=")[0]) == v.partition("=")[2])
        if "=" in v else v in dict(c.labels),
    }
    for key, values in filters.items():
        check = checks.get(key)
        if check is None:
            raise InvalidArgument(f"invalid filter '{key}'")
        if not any(check(v) for v in values):
            return False
    return True
