"""The flags ``run`` and ``create`` share, and how they become a ``ContainerSpec``.

Values are checked as docker's option types check them (``opts.MemBytes``,
``opts.NanoCPUs``, ``ValidateEnv``), so a bad value fails before any request with
docker's words: ``invalid argument "x" for "-m, --memory" flag: invalid size: 'x'``.
"""

from __future__ import annotations

from berth.cli.durations import parse_duration
from berth.cli.flags import Flag, UsageError, parse_int
from berth.cli.mountflags import STORAGE_FLAGS, storage_config
from berth.cli.netflags import NETWORK_FLAGS, network_config
from berth.cli.resourceflags import RESOURCE_FLAGS, resource_config
from berth.cli.resourceflags import nano_cpus as nano_cpus  # re-exported
from berth.cli.resourceflags import ram_in_bytes as ram_in_bytes  # re-exported
from berth.cli.securityflags import SECURITY_FLAGS, security_config
from berth.client.containerspec import ContainerSpec, Healthcheck, RestartPolicy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from berth.cli.flags import Options

_OWN_FLAGS: tuple[Flag, ...] = (
    Flag("attach", "a", "list", help="Attach to STDIN, STDOUT or STDERR"),
    Flag("entrypoint", kind="str", default="", help="Overwrite the default ENTRYPOINT of the "
         "image"),
    Flag("env", "e", "list", help="Set environment variables"),
    Flag("env-file", kind="list", help="Read in a file of environment variables"),
    Flag("health-cmd", kind="str", default="", help="Command to run to check health"),
    Flag("health-interval", kind="value", default=0, convert=parse_duration,
         metavar="duration", help="Time between running the check (ms|s|m|h)"),
    Flag("health-retries", kind="int", default=0, help="Consecutive failures needed to "
         "report unhealthy"),
    Flag("health-start-interval", kind="value", default=0, convert=parse_duration,
         metavar="duration", help="Time between running the check during the start "
         "period (ms|s|m|h)"),
    Flag("health-start-period", kind="value", default=0, convert=parse_duration,
         metavar="duration", help="Start period for the container to initialize before "
         "starting health-retries countdown (ms|s|m|h)"),
    Flag("health-timeout", kind="value", default=0, convert=parse_duration,
         metavar="duration", help="Maximum time to allow one check to run (ms|s|m|h)"),
    Flag("hostname", "h", "str", "", "Container host name"),
    Flag("init", kind="bool", help="Run an init inside the container that forwards signals "
         "and reaps processes"),
    Flag("interactive", "i", "bool", help="Keep STDIN open even if not attached"),
    Flag("label", "l", "list", help="Set meta data on a container"),
    Flag("log-driver", kind="str", default="", help="Logging driver for the container"),
    Flag("log-opt", kind="list", help="Log driver options"),
    Flag("name", kind="str", default="", help="Assign a name to the container"),
    Flag("no-healthcheck", kind="bool", help="Disable any container-specified HEALTHCHECK"),
    Flag("platform", kind="str", default="", help="Set platform if server is multi-platform "
         "capable"),
    Flag("restart", kind="str", default="no", help="Restart policy to apply when a "
         "container exits"),
    Flag("rm", kind="bool", help="Automatically remove the container and its associated "
         "anonymous volumes when it exits"),
    Flag("runtime", kind="str", default="", help="Runtime to use for this container"),
    Flag("stop-signal", kind="str", default="", help="Signal to stop the container"),
    Flag("stop-timeout", kind="int", help="Timeout (in seconds) to stop a container"),
    Flag("tty", "t", "bool", help="Allocate a pseudo-TTY"),
    Flag("user", "u", "str", "", "Username or UID (format: <name|uid>[:<group|gid>])"),
    Flag("workdir", "w", "str", "", "Working directory inside the container"),
)
SHARED_FLAGS: tuple[Flag, ...] = tuple(sorted((*_OWN_FLAGS, *NETWORK_FLAGS, *STORAGE_FLAGS,
                                               *SECURITY_FLAGS, *RESOURCE_FLAGS),
                                              key=lambda f: f.long))

RUN_FLAGS: tuple[Flag, ...] = tuple(sorted(
    (*SHARED_FLAGS,
     Flag("detach", "d", "bool", help="Run container in background and print container ID"),
     Flag("detach-keys", kind="str", default="", help="Override the key sequence for "
          "detaching a container"),
     Flag("sig-proxy", kind="bool", default=True, help="Proxy received signals to the "
          "process")),
    key=lambda f: f.long))

USAGE = "[OPTIONS] IMAGE [COMMAND] [ARG...]"


def _env_entry(entry: str, env: Mapping[str, str]) -> str | None:
    """docker's ``ValidateEnv``: ``K=V`` as given; a bare ``K`` takes the caller's value
    or is dropped when unset."""
    if "=" in entry:
        if entry.startswith("="):
            raise UsageError(f"invalid environment variable: {entry}")
        return entry
    return f"{entry}={env[entry]}" if entry in env else None


def read_env_file(path: str, env: Mapping[str, str]) -> list[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError as err:
        raise UsageError(f"open {path}: {err.strerror.lower() if err.strerror else err}"
                         ) from err
    found = []
    for line in lines:
        line = line.lstrip()
        if line and not line.startswith("#"):
            entry = _env_entry(line, env)
            if entry is not None:
                found.append(entry)
    return found


def _pairs(entries: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for entry in entries:
        key, _, value = entry.partition("=")
        pairs[key] = value
    return pairs


def _attach_streams(opts: Options, detach: bool) -> set[str]:
    for stream in opts.attach:
        if stream.lower() not in ("stdin", "stdout", "stderr"):
            raise UsageError(f"invalid argument \"{stream}\" for \"-a, --attach\" flag: "
                             "valid streams are STDIN, STDOUT and STDERR")
    if opts.attach:
        if detach:
            raise UsageError("conflicting options: cannot specify both --attach and --detach")
        return {s.lower() for s in opts.attach}
    if detach:
        return set()
    return {"stdout", "stderr"} | ({"stdin"} if opts.interactive else set())


def build_spec(opts: Options, args: list[str], env: Mapping[str, str],
               detach: bool = True) -> ContainerSpec:
    """The create request for ``IMAGE [COMMAND] [ARG...]`` and the parsed flags."""
    image, command = args[0], args[1:]
    env_list = [e for f in opts.env_file for e in read_env_file(f, env)]
    env_list += [e for e in (_env_entry(x, env) for x in opts.env) if e is not None]
    entrypoint: tuple[str, ...] | None = None
    if opts.entrypoint:
        entrypoint = (opts.entrypoint,)
    elif "entrypoint" in opts.given:
        entrypoint = ("",)  # --entrypoint= resets the image's entrypoint
    streams = _attach_streams(opts, detach)
    restart = parse_restart_policy(opts.restart)
    if opts.rm and not restart.is_none:
        raise UsageError("conflicting options: cannot specify both --restart and --rm")
    log_opts = _pairs(opts.log_opt)
    if opts.log_driver == "none" and log_opts:
        raise UsageError("invalid logging opts for driver none")
    return ContainerSpec(
        image=image, cmd=tuple(command) if command else None, entrypoint=entrypoint,
        env=tuple(env_list), working_dir=opts.workdir, user=opts.user,
        hostname=opts.hostname, labels=_pairs(opts.label), tty=opts.tty,
        open_stdin=opts.interactive, attach_stdin="stdin" in streams,
        attach_stdout="stdout" in streams, attach_stderr="stderr" in streams,
        stop_signal=opts.stop_signal, stop_timeout=opts.stop_timeout,
        runtime=opts.runtime, auto_remove=opts.rm, log_driver=opts.log_driver,
        log_opts=log_opts, init=opts.init if "init" in opts.given else None,
        restart_policy=restart, healthcheck=_healthcheck(opts), network=network_config(opts),
        storage=storage_config(opts), security=security_config(opts),
        resources=resource_config(opts))


def parse_restart_policy(text: str) -> RestartPolicy:
    """docker's ``opts.ParseRestartPolicy``: ``NAME[:MAX_RETRIES]``. Only the count's form
    is checked here; the daemon judges the name and whether a count fits it."""
    name, colon, count = text.partition(":")
    if colon and not name:
        raise UsageError("invalid restart policy format: no policy provided before colon")
    retries = 0
    if count:
        try:
            retries = parse_int(count)
        except ValueError:
            raise UsageError("invalid restart policy format: maximum retry count must be "
                             "an integer") from None
    return RestartPolicy(name, retries)


_HEALTH_DURATIONS = ("interval", "timeout", "start_period", "start_interval")


def _healthcheck(opts: Options) -> Healthcheck | None:
    """docker's healthcheck flags: any ``--health-*`` overrides the image's check,
    ``--no-healthcheck`` disables it, neither leaves it alone (None)."""
    given = bool(opts.health_cmd or opts.health_retries) or any(
        getattr(opts, f"health_{name}") for name in _HEALTH_DURATIONS)
    if opts.no_healthcheck:
        if given:
            raise UsageError("--no-healthcheck conflicts with --health-* options")
        return Healthcheck(test=("NONE",))
    if not given:
        return None
    for name in (*_HEALTH_DURATIONS[:2], "retries", *_HEALTH_DURATIONS[2:]):
        if getattr(opts, f"health_{name}") < 0:
            raise UsageError(f"--health-{name.replace('_', '-')} cannot be negative")
    return Healthcheck(
        test=("CMD-SHELL", opts.health_cmd) if opts.health_cmd else (),
        interval=opts.health_interval, timeout=opts.health_timeout,
        start_period=opts.health_start_period, start_interval=opts.health_start_interval,
        retries=opts.health_retries)


def familiar_tagged(image: str) -> str:
    """``busybox`` -> ``busybox:latest``, as docker names the image it could not find."""
    if "@" in image:
        return image
    last = image.rsplit("/", 1)[-1]
    return image if ":" in last else f"{image}:latest"
