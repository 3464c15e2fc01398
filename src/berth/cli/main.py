"""``berth``: global flags, verb dispatch, and the one place errors become exit codes.

Start-up stays fast: this module imports only the flag parser; the verb's module (and the
client behind it) is imported when the verb runs, and neither pulls in heavy standard
modules (``typing``, ``dataclasses``, ``ssl``, ``http.client``...) on the unix-socket path:
every module costs every invocation; ``bench/startup.py`` measures the budget.
``berth run`` and ``berth container run`` name the same module. Only this module reads
the environment: ``BERTH_HOST``, ``BERTH_API_VERSION``, and the TLS settings docker's CLI
reads from ``DOCKER_TLS``/``DOCKER_TLS_VERIFY``/``DOCKER_CERT_PATH`` as ``BERTH_TLS``,
``BERTH_TLS_VERIFY`` and ``BERTH_CERT_PATH`` (default: docker's config directory,
``$DOCKER_CONFIG`` or ``~/.docker``, where ``ca.pem``, ``cert.pem`` and ``key.pem`` live).
"""

from __future__ import annotations

import os
import sys

from berth import errors
from berth.cli.command import PROG, Context, StatusError, daemon_message
from berth.cli.flags import ArgCountError, HelpRequested, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from berth.cli.command import Command
    from berth.client.tls import TLSOptions

DEFAULT_API_VERSION = "1.45"

# verb -> "module[:ATTRIBUTE]" under berth.cli.commands (ATTRIBUTE defaults to COMMAND)
TOP_LEVEL = {
    "run": "run", "create": "create", "start": "start", "ps": "ps", "logs": "logs",
    "inspect": "inspect", "stop": "stop", "kill": "kill", "wait": "wait", "rm": "rm",
    "images": "images", "rmi": "rmi", "import": "import_", "version": "version",
    "info": "info", "exec": "exec", "attach": "attach", "top": "top", "pause": "pause",
    "unpause": "pause:UNPAUSE", "restart": "restart", "rename": "rename", "events": "events",
    "pull": "pull", "push": "push", "tag": "tag", "login": "login", "logout": "logout",
    "save": "save", "load": "load", "export": "export", "history": "history",
    "build": "build", "port": "port", "cp": "cp", "diff": "diff", "commit": "commit",
    "stats": "stats", "update": "update",
}
MANAGEMENT = {
    "container": {
        "run": "run", "create": "create", "start": "start", "ls": "ps", "list": "ps",
        "ps": "ps", "logs": "logs", "inspect": "inspect:CONTAINER", "stop": "stop",
        "kill": "kill", "wait": "wait", "rm": "rm", "remove": "rm", "exec": "exec",
        "attach": "attach", "top": "top", "pause": "pause", "unpause": "pause:UNPAUSE",
        "restart": "restart", "rename": "rename", "prune": "prune", "export": "export",
        "port": "port", "cp": "cp", "diff": "diff", "commit": "commit", "stats": "stats",
        "update": "update",
    },
    "image": {
        "ls": "images", "list": "images", "rm": "rmi", "remove": "rmi",
        "inspect": "inspect:IMAGE", "import": "import_", "bootstrap": "bootstrap",
        "pull": "pull", "push": "push", "tag": "tag",
        "save": "save", "load": "load", "history": "history", "prune": "image_prune",
        "build": "build",
    },
    "network": {
        "create": "network:CREATE", "ls": "network:LS", "list": "network:LS",
        "inspect": "network:INSPECT", "rm": "network:RM", "remove": "network:RM",
        "prune": "network:PRUNE", "connect": "network:CONNECT",
        "disconnect": "network:DISCONNECT",
    },
    "volume": {
        "create": "volume:CREATE", "ls": "volume:LS", "list": "volume:LS",
        "inspect": "volume:INSPECT", "rm": "volume:RM", "remove": "volume:RM",
        "prune": "volume:PRUNE",
    },
    "system": {"info": "info", "events": "events", "df": "system_df",
               "prune": "system_prune"},
    "builder": {"prune": "builder_prune"},
}

USAGE = f"""
Usage:  {PROG} [OPTIONS] COMMAND

A Docker-compatible container engine

Common Commands:
  run         Create and run a new container from an image
  exec        Execute a command in a running container
  ps          List containers
  build       Build an image from a Dockerfile
  pull        Download an image from a registry
  push        Upload an image to a registry
  images      List images
  login       Authenticate to a registry
  logout      Log out from a registry
  version     Show the Berth version information
  info        Display system-wide information

Management Commands:
  builder     Manage builds
  container   Manage containers
  image       Manage images
  network     Manage networks
  registry    Run a registry server (serve, garbage-collect)
  system      Manage Berth
  volume      Manage volumes

Commands:
  attach      Attach local standard input, output, and error streams to a running container
  commit      Create a new image from a container's changes
  cp          Copy files/folders between a container and the local filesystem
  create      Create a new container
  diff        Inspect changes to files or directories on a container's filesystem
  events      Get real time events from the server
  export      Export a container's filesystem as a tar archive
  history     Show the history of an image
  import      Import the contents from a tarball to create a filesystem image
  inspect     Return low-level information on Berth objects
  kill        Kill one or more running containers
  load        Load an image from a tar archive or STDIN
  logs        Fetch the logs of a container
  pause       Pause all processes within one or more containers
  port        List port mappings or a specific mapping for the container
  rename      Rename a container
  restart     Restart one or more containers
  rm          Remove one or more containers
  rmi         Remove one or more images
  save        Save one or more images to a tar archive (streamed to STDOUT by default)
  start       Start one or more stopped containers
  stats       Display a live stream of container(s) resource usage statistics
  stop        Stop one or more running containers
  tag         Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
  top         Display the running processes of a container
  unpause     Unpause all processes within one or more containers
  update      Update configuration of one or more containers
  wait        Block until one or more containers stop, then print their exit codes

Global Options:
  -D, --debug              Enable debug mode
  -H, --host string        Daemon socket to connect to (unix:///path or tcp://host:port)
  -h, --help               Print usage
      --tls                Use TLS; implied by --tlsverify
      --tlscacert string   Trust certs signed only by this CA (default "$BERTH_CERT_PATH/ca.pem")
      --tlscert string     Path to TLS certificate file (default "$BERTH_CERT_PATH/cert.pem")
      --tlskey string      Path to TLS key file (default "$BERTH_CERT_PATH/key.pem")
      --tlsverify          Use TLS and verify the remote
  -v, --version            Print version information and quit

Run '{PROG} COMMAND --help' for more information on a command.
"""


class GlobalOptions:
    """The flags before the verb, as docker's ``ClientOptions`` holds them."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.host = env.get("BERTH_HOST") or ""
        self.tls = bool(env.get("BERTH_TLS"))
        self.tls_verify = bool(env.get("BERTH_TLS_VERIFY"))
        self.tls_verify_given = False  # --tlsverify=false still turns TLS on, as in docker
        self.files: dict[str, str] = {}  # "--tlscacert" etc. as given

    def tls_options(self, env: Mapping[str, str]) -> TLSOptions | None:
        """Docker's SetDefaultOptions: TLS when asked for by --tls or implied by
        --tlsverify; the CA defaults to ``ca.pem`` in the cert path, the client pair to
        ``cert.pem``/``key.pem`` there when they exist."""
        if not (self.tls or self.tls_verify or self.tls_verify_given):
            return None
        from berth.client.tls import TLSOptions

        cert_path = env.get("BERTH_CERT_PATH") or env.get("DOCKER_CONFIG") or os.path.join(
            env.get("HOME") or os.path.expanduser("~"), ".docker")

        def given(flag: str, name: str, must_exist: bool) -> str:
            path = self.files.get(flag) or os.path.join(cert_path, name)
            return "" if flag not in self.files and must_exist and \
                not os.path.exists(path) else path

        return TLSOptions(verify=self.tls_verify, ca_file=given("--tlscacert", "ca.pem", False),
                          cert_file=given("--tlscert", "cert.pem", True),
                          key_file=given("--tlskey", "key.pem", True))


_TLS_FILES = ("--tlscacert", "--tlscert", "--tlskey")
_BOOLS = {"1": True, "t": True, "true": True, "0": False, "f": False, "false": False}


def _globals(argv: list[str], env: Mapping[str, str]) -> tuple[GlobalOptions, list[str]]:
    """Strip the global flags before the verb; returns them and the rest."""
    opts = GlobalOptions(env)
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if arg.startswith("-H") and len(arg) > 2 and not arg.startswith("--"):
            name, eq, value = "-H", "=", arg[2:].lstrip("=")
        if name in ("-H", "--host", *_TLS_FILES):
            if not eq:
                if i + 1 >= len(argv):
                    raise UsageError(f"flag needs an argument: {arg}")
                i, value = i + 1, argv[i + 1]
            if name in _TLS_FILES:
                opts.files[name] = value
            else:
                opts.host = value
        elif name in ("--tls", "--tlsverify"):
            flag = _BOOLS.get(value.lower()) if eq else True
            if flag is None:
                raise UsageError(f'invalid argument "{value}" for "{name}" flag: '
                                 f"strconv.ParseBool: parsing \"{value}\": invalid syntax")
            if name == "--tls":
                opts.tls = flag
            else:
                opts.tls_verify, opts.tls_verify_given = flag, True
        elif arg in ("-D", "--debug"):
            pass
        elif arg in ("-v", "--version"):
            return opts, ["--short-version"]
        elif arg in ("-h", "--help"):
            return opts, []
        else:
            raise UsageError(f"unknown flag: {arg}")
        i += 1
    return opts, argv[i:]


def _resolve(words: list[str]) -> tuple[str, str, list[str]] | None:
    """(invoked path, module spec, remaining argv) for the verb at the head of ``words``."""
    head = words[0]
    if head in MANAGEMENT and len(words) > 1 and words[1] in MANAGEMENT[head]:
        return f"{PROG} {head} {words[1]}", MANAGEMENT[head][words[1]], words[2:]
    if head in TOP_LEVEL:
        return f"{PROG} {head}", TOP_LEVEL[head], words[1:]
    return None


def _load(spec: str) -> tuple[Command, object]:
    module_name, _, attr = spec.partition(":")
    # __import__, not importlib.import_module: ``importlib`` imports ``warnings``.
    module = __import__(f"berth.cli.commands.{module_name}", fromlist=["run"])
    return getattr(module, attr or "COMMAND"), module.run


def _registry(ctx: Context, words: list[str]) -> int:
    """``berth registry serve|garbage-collect ...`` is the registry server, a program of its
    own (the CLI carries no server code): hand the words to ``berth-registry`` beside us."""
    program = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), "berth-registry")
    if not os.access(program, os.X_OK):
        ctx.err(f"{PROG}: registry: {program} is not installed")
        return 1
    ctx.stdout.flush()
    os.execv(program, [program, *words])


def dispatch(ctx: Context, words: list[str]) -> int:
    if not words:
        ctx.stdout.write(USAGE)
        return 0
    if words == ["--short-version"]:
        from berth import __version__ as version

        ctx.out(f"Berth version {version or '0.1.0'}")
        return 0
    if words[0] == "registry":
        return _registry(ctx, words[1:])
    found = _resolve(words)
    if found is None:
        if words[0] in MANAGEMENT:
            ctx.stdout.write(USAGE)
            return 0
        ctx.err(f"{PROG}: unknown command: {PROG} {words[0]}\n\n"
                f"Run '{PROG} --help' for more information")
        return 1
    path, spec, argv = found
    command, run = _load(spec)
    ctx.path = path
    try:
        opts, args = command.parse(path, argv)
    except HelpRequested:
        ctx.out(command.help(path))
        return 0
    except UsageError as err:
        verb = err.hint if isinstance(err, ArgCountError) else "Run"
        ctx.err(f"{err}\n\nUsage:  {path} {command.usage}\n\n"
                f"{verb} '{path} --help' for more information")
        return err.exit_code
    try:
        result: int = run(ctx, opts, args)  # type: ignore[operator]
    except UsageError as err:
        # A value only the verb can judge (docker's runconfig checks, e.g. --rm with
        # --restart): docker's "docker: <reason>" form, without the usage line.
        ctx.err(f"{PROG}: {err}\n\nRun '{path} --help' for more information")
        return err.exit_code
    return result


def main(argv: Sequence[str] | None = None, env: dict[str, str] | None = None) -> int:
    env = dict(os.environ) if env is None else env
    words = list(sys.argv[1:] if argv is None else argv)
    from berth.client.transport import parse_host

    try:
        opts, words = _globals(words, env)
        tls = opts.tls_options(env)
        try:
            host = parse_host(opts.host, tls is not None)
        except errors.InvalidArgument as err:
            raise UsageError(f'invalid argument "{opts.host}" for "-H, --host" flag: '
                             f"{err.message}") from err
    except UsageError as err:
        sys.stderr.write(f"{err}\nSee '{PROG} --help'.\n")
        return 125
    ctx = Context(host, env.get("BERTH_API_VERSION") or DEFAULT_API_VERSION, env=env,
                  tls=tls if host.startswith("tcp://") else None)
    try:
        return dispatch(ctx, words)
    except StatusError as err:
        if err.message:
            ctx.err(err.message)
        return err.exit_code
    except errors.BerthError as err:
        return _report(ctx, err)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    finally:
        _flush(ctx)


def _report(ctx: Context, err: errors.BerthError) -> int:
    from berth.client.transport import DaemonUnreachable, TLSFailure

    if isinstance(err, TLSFailure):
        ctx.err(f"error during connect: {err.host}: {err.reason}")
    elif isinstance(err, DaemonUnreachable):
        ctx.err(f"Cannot connect to the Berth daemon at {err.host}. "
                "Is the berth daemon running?")
    else:
        ctx.err(daemon_message(err))
    return 1


def _flush(ctx: Context) -> None:
    for stream in (ctx.stdout, ctx.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):
            pass  # the reader went away or the stream is closed: nothing to deliver


if __name__ == "__main__":
    sys.exit(main())
