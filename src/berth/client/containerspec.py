"""What ``create``/``run`` ask for: the body of ``POST /containers/create``.

Its own module (not ``models``) because it is the one value with docker's Config and
HostConfig both behind it; the restart policy and the healthcheck are values of their own,
so "not given" (``None``: the daemon's default) stays distinct from a zero value.
"""

from __future__ import annotations

from berth.client.models import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

    from berth.client.networking import ContainerNetworking
    from berth.client.resources import ContainerResources
    from berth.client.security import ContainerSecurity
    from berth.client.storage import ContainerStorage


class RestartPolicy(Value):
    """``HostConfig.RestartPolicy``: ``no``, ``always``, ``unless-stopped`` or
    ``on-failure`` with an optional retry limit. The daemon validates the name."""

    __slots__ = ("maximum_retry_count", "name")
    name: Final[str]
    maximum_retry_count: Final[int]

    def __init__(self, name: str, maximum_retry_count: int = 0) -> None:
        self.name = name
        self.maximum_retry_count = maximum_retry_count

    @property
    def is_none(self) -> bool:
        """docker's ``RestartPolicy.IsNone``: the only policy ``--rm`` goes with."""
        return self.name in ("", "no")

    def to_json(self) -> dict[str, Any]:
        return {"Name": self.name, "MaximumRetryCount": self.maximum_retry_count}


class Healthcheck(Value):
    """``Config.Healthcheck``; durations are nanoseconds, 0 meaning "inherit". A ``test``
    of ``("NONE",)`` disables the image's check; an empty one inherits it."""

    __slots__ = ("interval", "retries", "start_interval", "start_period", "test", "timeout")
    test: Final[tuple[str, ...]]
    interval: Final[int]
    timeout: Final[int]
    start_period: Final[int]
    start_interval: Final[int]
    retries: Final[int]

    def __init__(self, test: tuple[str, ...] = (), interval: int = 0, timeout: int = 0,
                 start_period: int = 0, start_interval: int = 0, retries: int = 0) -> None:
        self.test = test
        self.interval = interval
        self.timeout = timeout
        self.start_period = start_period
        self.start_interval = start_interval
        self.retries = retries

    def to_json(self) -> dict[str, Any]:
        # Go's ``omitempty``: what docker's CLI leaves out, the daemon reads as "inherit".
        doc: dict[str, Any] = {"Test": list(self.test)} if self.test else {}
        for key, value in (("Interval", self.interval), ("Timeout", self.timeout),
                           ("StartPeriod", self.start_period),
                           ("StartInterval", self.start_interval),
                           ("Retries", self.retries)):
            if value:
                doc[key] = value
        return doc


class ContainerSpec(Value):
    """What ``create``/``run`` ask for: the body of ``POST /containers/create``."""

    __slots__ = (
        "attach_stderr",
        "attach_stdin",
        "attach_stdout",
        "auto_remove",
        "cmd",
        "cpu_shares",
        "entrypoint",
        "env",
        "healthcheck",
        "hostname",
        "image",
        "init",
        "labels",
        "log_driver",
        "log_opts",
        "memory",
        "nano_cpus",
        "network",
        "open_stdin",
        "pids_limit",
        "resources",
        "restart_policy",
        "runtime",
        "security",
        "stop_signal",
        "stop_timeout",
        "storage",
        "tty",
        "user",
        "working_dir",
    )
    image: Final[str]
    cmd: Final[tuple[str, ...] | None]
    entrypoint: Final[tuple[str, ...] | None]
    env: Final[tuple[str, ...]]
    working_dir: Final[str]
    user: Final[str]
    hostname: Final[str]
    labels: Final[dict[str, str]]
    tty: Final[bool]
    open_stdin: Final[bool]
    attach_stdin: Final[bool]
    attach_stdout: Final[bool]
    attach_stderr: Final[bool]
    stop_signal: Final[str]
    stop_timeout: Final[int | None]
    memory: Final[int]
    nano_cpus: Final[int]
    cpu_shares: Final[int]
    pids_limit: Final[int | None]
    runtime: Final[str]
    auto_remove: Final[bool]
    log_driver: Final[str]
    log_opts: Final[dict[str, str]]
    init: Final[bool | None]
    restart_policy: Final[RestartPolicy | None]
    healthcheck: Final[Healthcheck | None]
    network: Final[ContainerNetworking | None]
    storage: Final[ContainerStorage | None]
    security: Final[ContainerSecurity | None]
    resources: Final[ContainerResources | None]

    def __init__(self, image: str, cmd: tuple[str, ...] | None = None,
                 entrypoint: tuple[str, ...] | None = None, env: tuple[str, ...] = (),
                 working_dir: str = "", user: str = "", hostname: str = "",
                 labels: dict[str, str] | None = None, tty: bool = False,
                 open_stdin: bool = False, attach_stdin: bool = False,
                 attach_stdout: bool = False, attach_stderr: bool = False,
                 stop_signal: str = "", stop_timeout: int | None = None, memory: int = 0,
                 nano_cpus: int = 0, cpu_shares: int = 0, pids_limit: int | None = None,
                 runtime: str = "", auto_remove: bool = False, log_driver: str = "",
                 log_opts: dict[str, str] | None = None, init: bool | None = None,
                 restart_policy: RestartPolicy | None = None,
                 healthcheck: Healthcheck | None = None,
                 network: ContainerNetworking | None = None,
                 storage: ContainerStorage | None = None,
                 security: ContainerSecurity | None = None,
                 resources: ContainerResources | None = None) -> None:
        self.image = image
        self.cmd = cmd
        self.entrypoint = entrypoint
        self.env = env
        self.working_dir = working_dir
        self.user = user
        self.hostname = hostname
        self.labels = {} if labels is None else labels
        self.tty = tty
        self.open_stdin = open_stdin
        self.attach_stdin = attach_stdin
        self.attach_stdout = attach_stdout
        self.attach_stderr = attach_stderr
        self.stop_signal = stop_signal
        self.stop_timeout = stop_timeout
        self.memory = memory
        self.nano_cpus = nano_cpus
        self.cpu_shares = cpu_shares
        self.pids_limit = pids_limit
        self.runtime = runtime
        self.auto_remove = auto_remove
        self.log_driver = log_driver
        self.log_opts = {} if log_opts is None else log_opts
        self.init = init
        self.restart_policy = restart_policy
        self.healthcheck = healthcheck
        self.network = network
        self.storage = storage
        self.security = security
        self.resources = resources

    def _host_config(self) -> dict[str, Any]:
        host: dict[str, Any] = {
            "AutoRemove": self.auto_remove, "Memory": self.memory, "NanoCpus": self.nano_cpus,
            "CpuShares": self.cpu_shares,
            "LogConfig": {"Type": self.log_driver, "Config": self.log_opts},
        }
        if self.pids_limit is not None:
            host["PidsLimit"] = self.pids_limit
        if self.runtime:
            host["Runtime"] = self.runtime
        if self.init is not None:  # only when given: unset means the daemon's default
            host["Init"] = self.init
        if self.restart_policy is not None:
            host["RestartPolicy"] = self.restart_policy.to_json()
        if self.resources is not None:
            self.resources.fill(host)
        return host

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "Image": self.image, "Env": list(self.env), "WorkingDir": self.working_dir,
            "User": self.user, "Hostname": self.hostname, "Labels": self.labels,
            "Tty": self.tty, "OpenStdin": self.open_stdin,
            "StdinOnce": self.open_stdin and self.attach_stdin,
            "AttachStdin": self.attach_stdin, "AttachStdout": self.attach_stdout,
            "AttachStderr": self.attach_stderr, "HostConfig": self._host_config(),
        }
        if self.cmd is not None:
            doc["Cmd"] = list(self.cmd)
        if self.entrypoint is not None:
            doc["Entrypoint"] = list(self.entrypoint)
        if self.stop_signal:
            doc["StopSignal"] = self.stop_signal
        if self.stop_timeout is not None:
            doc["StopTimeout"] = self.stop_timeout
        if self.healthcheck is not None:
            doc["Healthcheck"] = self.healthcheck.to_json()
        if self.storage is not None:
            self.storage.fill(doc, doc["HostConfig"])
        if self.security is not None:
            self.security.fill(doc, doc["HostConfig"])
        if self.network is not None:
            doc["NetworkingConfig"] = self.network.fill(doc, doc["HostConfig"])
        return doc
