"""Container documents on the wire: the create request in, inspect and list out.

Docker's PascalCase shapes live here and in the client only; below this line the engine
sees ``ContainerSpec`` and returns ``Container``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from berth.api.server import (
    container_mounts,
    container_network,
    container_resources,
    container_security,
)
from berth.api.types import containers as types
from berth.api.types import responses as wire
from berth.api.types.decode import unsupported
from berth.engine import clock
from berth.engine.containers import process
from berth.engine.containers.model import (
    Container,
    ContainerSpec,
    Health,
    Healthcheck,
    LogConfig,
    RestartPolicy,
    State,
    Status,
)
from berth.engine.networks.model import ContainerNetwork
from berth.engine.volumes.model import MountPoint, Volume
from berth.errors import InvalidArgument
from berth.formats.units import human_duration

VolumeLookup = Callable[[str], Volume]  # a volume by its name (NotFound if none)

# What berth honours of a create body. Every other field must be at its zero value (or
# one of docker's defaults below): a set one is refused by name, never dropped.
_HONOURED_CONFIG = frozenset({
    "Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr",
    "ExposedPorts", "Tty", "OpenStdin", "StdinOnce", "Env", "Cmd", "Healthcheck",
    "ArgsEscaped", "Image", "WorkingDir", "Entrypoint", "NetworkDisabled", "Labels",
    "StopSignal", "StopTimeout", "HostConfig", "NetworkingConfig", "MacAddress",
    "Volumes",  # container_mounts.py
})
_HONOURED_HOST = container_resources.HONOURED | container_security.HONOURED | frozenset({
    "Init", "LogConfig", "RestartPolicy", "AutoRemove",
    "ConsoleSize", "ReadonlyRootfs", "Runtime",
    "NetworkMode", "PortBindings", "PublishAllPorts", "Links", "Dns", "DnsSearch",
    "DnsOptions", "ExtraHosts",  # container_network.py
    "Binds", "Mounts", "Tmpfs", "VolumesFrom", "VolumeDriver",  # container_mounts.py
    "ContainerIDFile",  # the client writes that file; moby ignores it too
})
# Values that ask for exactly what every berth container gets.
_DEFAULTS: dict[str, tuple[object, ...]] = {
    **container_resources.DEFAULTS, **container_security.DEFAULTS, "Isolation": ("default",),
}


def _refuse_unsupported(body: types.ContainerCreate) -> None:
    """400 naming the first field set to something berth does not do (yet); the
    endpoints' own refusals are container_network's."""
    refused = (unsupported(body, _HONOURED_CONFIG)
               or unsupported(body.HostConfig, _HONOURED_HOST, _DEFAULTS, "HostConfig."))
    if refused is not None:
        raise InvalidArgument(f"berth does not support {refused} yet")


def _command(value: types.StrSlice, field: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,) if field == "Entrypoint" else ("/bin/sh", "-c", value)
    return tuple(value)


def spec_from_create(body: types.ContainerCreate) -> ContainerSpec:
    if not body.Image:
        raise InvalidArgument("config cannot be empty in order to create a container")
    _refuse_unsupported(body)
    host = body.HostConfig
    console = host.ConsoleSize or [0, 0]  # its shape is checked by the decoder
    spec = ContainerSpec(
        image=body.Image,
        cmd=_command(body.Cmd, "Cmd"),
        entrypoint=_command(body.Entrypoint, "Entrypoint"),
        env=tuple(body.Env or ()),
        working_dir=body.WorkingDir,
        user=body.User,
        hostname=body.Hostname,
        domainname=body.Domainname,
        labels=tuple((body.Labels or {}).items()),
        tty=body.Tty,
        open_stdin=body.OpenStdin,
        stdin_once=body.StdinOnce,
        attach_stdin=body.AttachStdin,
        attach_stdout=body.AttachStdout,
        attach_stderr=body.AttachStderr,
        stop_signal=body.StopSignal,
        stop_timeout=body.StopTimeout,
        auto_remove=host.AutoRemove,
        runtime=host.Runtime,
        resources=container_resources.resources_from(host),
        security=container_security.security_from(host),
        log_config=LogConfig(type=host.LogConfig.Type or "json-file",
                             options=tuple((host.LogConfig.Config or {}).items())),
        restart_policy=RestartPolicy(name=host.RestartPolicy.Name or "no",
                                     maximum_retry_count=host.RestartPolicy.MaximumRetryCount),
        readonly_rootfs=host.ReadonlyRootfs,
        healthcheck=_healthcheck(body.Healthcheck),
        init=bool(host.Init),
        network_disabled=body.NetworkDisabled,
        console_size=(console[0], console[1]),
        ipc_mode=host.IpcMode or "private",
        cgroupns_mode=host.CgroupnsMode or "private",
        isolation=host.Isolation,
    )
    return container_mounts.with_mounts(container_network.with_networking(spec, body), body)


def _healthcheck(value: types.HealthConfig | None) -> Healthcheck | None:
    """Config.Healthcheck (docker run --health-*; durations in nanoseconds)."""
    if value is None:
        return None
    return Healthcheck(test=tuple(value.Test or ()), interval=value.Interval,
                       timeout=value.Timeout, start_period=value.StartPeriod,
                       start_interval=value.StartInterval, retries=value.Retries)


def _healthcheck_json(hc: Healthcheck) -> wire.StructDoc:
    """The request's own model, so the zero durations are left out (omitempty) as docker's
    HealthConfig does; Test is always there."""
    doc: wire.StructDoc = types.to_builtins(types.HealthConfig(
        Test=list(hc.test), Interval=hc.interval, Timeout=hc.timeout,
        StartPeriod=hc.start_period, StartInterval=hc.start_interval, Retries=hc.retries))
    return doc


def _health_json(h: Health) -> wire.Health:
    return {"Status": h.status, "FailingStreak": h.failing_streak,
            "Log": [{"Start": p.start, "End": p.end, "ExitCode": p.exit_code,
                     "Output": p.output} for p in h.log]}


def _host_config(c: Container, volume: VolumeLookup | None) -> wire.StructDoc:
    """Every HostConfig field, as docker shows it: what berth honours from the create
    request, everything else (refused at create unless zero) at its zero value."""
    s = c.spec
    host = types.HostConfig(
        AutoRemove=s.auto_remove, Runtime=c.runtime, ReadonlyRootfs=s.readonly_rootfs,
        LogConfig=types.LogConfig(Type=s.log_config.type, Config=dict(s.log_config.options)),
        RestartPolicy=types.RestartPolicy(
            Name=s.restart_policy.name,
            MaximumRetryCount=s.restart_policy.maximum_retry_count),
        Init=True if s.init else None, ShmSize=64 * 1024 * 1024,
        ConsoleSize=list(s.console_size), Isolation=s.isolation)
    container_resources.host_config(host, c)
    container_security.host_config(host, c)
    host.Binds, host.Mounts, host.Tmpfs, host.VolumesFrom = container_mounts.host_fields(
        s, volume)
    doc: wire.StructDoc = types.to_builtins(container_network.host_config(host, c))
    return doc


def _state(st: State) -> wire.ContainerState:
    state: wire.ContainerState = {
        "Status": st.status.value,
        "Running": st.running or st.status == Status.RESTARTING,  # as docker's
        "Paused": st.status == Status.PAUSED, "Restarting": st.status == Status.RESTARTING,
        "OOMKilled": st.oom_killed, "Dead": st.status == Status.DEAD, "Pid": st.pid,
        "ExitCode": st.exit_code, "Error": st.error, "StartedAt": st.started_at,
        "FinishedAt": st.finished_at,
    }
    if st.health is not None:
        state["Health"] = _health_json(st.health)
    return state


def _config(c: Container, volume: VolumeLookup | None) -> wire.ContainerConfig:
    config: wire.ContainerConfig = {
        "Hostname": c.hostname, "Domainname": c.spec.domainname, "User": c.spec.user,
        "AttachStdin": c.spec.attach_stdin, "AttachStdout": c.spec.attach_stdout,
        "AttachStderr": c.spec.attach_stderr, "Tty": c.spec.tty,
        "OpenStdin": c.spec.open_stdin, "StdinOnce": c.spec.stdin_once,
        "Env": list(process.config_env(c)),
        "Cmd": list(c.cmd) if c.cmd is not None else None, "Image": c.spec.image,
        "Volumes": container_mounts.config_volumes(c.spec, volume),
        "WorkingDir": c.working_dir if c.working_dir != "/" else "",
        "Entrypoint": list(c.entrypoint) if c.entrypoint is not None else None,
        "OnBuild": None, "Labels": dict(c.labels),
    }
    if c.spec.exposed_ports:
        config["ExposedPorts"] = {p: {} for p in c.spec.exposed_ports}
    if c.spec.network_disabled:
        config["NetworkDisabled"] = True
    if c.spec.healthcheck is not None:
        config["Healthcheck"] = _healthcheck_json(c.spec.healthcheck)
    if c.spec.stop_signal:
        config["StopSignal"] = c.spec.stop_signal
    if c.spec.stop_timeout is not None:
        config["StopTimeout"] = c.spec.stop_timeout
    return config


def mount_points(points: list[MountPoint]) -> list[wire.MountPoint]:
    """Inspect's and ps's ``Mounts`` (docker's types.MountPoint)."""
    out: list[wire.MountPoint] = []
    for p in points:
        m: wire.MountPoint = {"Type": p.type, "Source": p.source,
                              "Destination": p.destination, "Mode": p.mode, "RW": p.rw,
                              "Propagation": p.propagation}
        if p.name:  # Name and Driver are omitempty: a bind or tmpfs has neither
            m["Name"] = p.name
        if p.driver:
            m["Driver"] = p.driver
        out.append(m)
    return out


def inspect(c: Container, data_root: str, driver: str, net: ContainerNetwork,
            exec_ids: list[str] | None = None, mounts: list[MountPoint] | None = None,
            volume: VolumeLookup | None = None) -> wire.ContainerInspect:
    """``mounts``: the volume backend's mount points; ``volume`` looks a volume up (which
    of the mounts are anonymous volumes, for HostConfig.Binds and Config.Volumes)."""
    base = f"{data_root}/containers/{c.id}"
    return {
        "Id": c.id, "Created": c.created, "Path": c.path, "Args": list(c.args),
        "State": _state(c.state), "Image": c.image_id, "ResolvConfPath": f"{base}/resolv.conf",
        "HostnamePath": f"{base}/hostname", "HostsPath": f"{base}/hosts",
        "LogPath": c.log_path, "Name": "/" + c.name, "RestartCount": c.restart_count,
        "Driver": driver, "Platform": "linux", "MountLabel": "", "ProcessLabel": "",
        "AppArmorProfile": "", "ExecIDs": exec_ids or None,
        "HostConfig": _host_config(c, volume), "GraphDriver": {"Name": driver, "Data": None},
        "Mounts": mount_points(mounts or []), "Config": _config(c, volume),
        "NetworkSettings": container_network.network_settings(c, net),
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


def summary(c: Container, net: ContainerNetwork | None = None,
            mounts: list[MountPoint] | None = None) -> wire.ContainerSummary:
    """One item of ps; ``net`` None (system df) shows no ports nor networks."""
    net = net or ContainerNetwork()
    return {
        "Id": c.id, "Names": ["/" + c.name], "Image": c.spec.image, "ImageID": c.image_id,
        "Command": " ".join([c.path, *c.args]), "Created": int(clock.parse(c.created)),
        "Ports": container_network.summary_ports(c, net), "Labels": dict(c.labels),
        "State": c.state.status.value,
        "Status": status_text(c), "HostConfig": {"NetworkMode": c.spec.network_mode},
        "NetworkSettings": {"Networks": container_network.networks(net)},
        "Mounts": mount_points(mounts or []),
    }


def matches(c: Container, filters: dict[str, list[str]]) -> bool:
    """docker ps filters: id, name, label, status, exited, ancestor, volume (a volume's
    name, a bind's source or a mount's destination)."""
    checks: dict[str, Callable[[str], bool]] = {
        "id": lambda v: c.id.startswith(v),
        "name": lambda v: v.lstrip("/") in c.name,
        "status": lambda v: c.state.status.value == v,
        "exited": lambda v: c.state.status == Status.EXITED and str(c.state.exit_code) == v,
        "ancestor": lambda v: v in (c.spec.image, c.image_id) or c.image_id.startswith(
            "sha256:" + v),
        "volume": lambda v: any(v in (m.source, m.target) for m in c.spec.mounts),
        "label": lambda v: (dict(c.labels).get(v.partition("=")[0]) == v.partition("=")[2])
        if "=" in v else v in dict(c.labels),
    }
    for key, values in filters.items():
        check = checks.get(key)
        if check is None:
            raise InvalidArgument(f"invalid filter '{key}'")
        if not (all if key == "label" else any)(check(v) for v in values):
            return False  # docker: every label must match, any one of the other values
    return True
