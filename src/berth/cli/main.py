"""``berth``: global flags, verb dispatch, and the one place errors become exit codes.

Start-up stays fast: this module imports only the flag parser; the verb's module (and the
client behind it) is imported when the verb runs, and neither pulls in heavy standard
modules (``typing``, ``dataclasses``, ``re``, ``json``, ``http.client``...): every module
costs every invocation; ``tests/unit/client/test_import_diet.py`` guards the list.
``berth run`` and ``berth container run`` name the same module. Only this module reads
the environment (``BERTH_HOST``, ``BERTH_API_VERSION``).
"""

from __future__ import annotations

import os
import sys

from berth import errors
from berth.cli.command import PROG, Context, StatusError, daemon_message
from berth.cli.flags import ArgCountError, HelpRequested, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from berth.cli.command import Command

DEFAULT_HOST = "unix:///run/berth/berth.sock"
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
    "build": "build",
}
MANAGEMENT = {
    "container": {
        "run": "run", "create": "create", "start": "start", "ls": "ps", "list": "ps",
        "ps": "ps", "logs": "logs", "inspect": "inspect:CONTAINER", "stop": "stop",
        "kill": "kill", "wait": "wait", "rm": "rm", "remove": "rm", "exec": "exec",
        "attach": "attach", "top": "top", "pause": "pause", "unpause": "pause:UNPAUSE",
        "restart": "restart", "rename": "rename", "prune": "prune", "export": "export",
    },
    "image": {
        "ls": "images", "list": "images", "rm": "rmi", "remove": "rmi",
        "inspect": "inspect:IMAGE", "import": "import_", "bootstrap": "bootstrap",
        "pull": "pull", "push": "push", "tag": "tag",
        "save": "save", "load": "load", "history": "history", "prune": "image_prune",
        "build": "build",
    },
    "system": {"info": "info", "events": "events"},
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
  registry    Run a registry server (serve, garbage-collect)
  system      Manage Berth

Commands:
  attach      Attach local standard input, output, and error streams to a running container
  create      Create a new container
  events      Get real time events from the server
  export      Export a container's filesystem as a tar archive
  history     Show the history of an image
  import      Import the contents from a tarball to create a filesystem image
  inspect     Return low-level information on Berth objects
  kill        Kill one or more running containers
  load        Load an image from a tar archive or STDIN
  logs        Fetch the logs of a container
  pause       Pause all processes within one or more containers
  rename      Rename a container
  restart     Restart one or more containers
  rm          Remove one or more containers
  rmi         Remove one or more images
  save        Save one or more images to a tar archive (streamed to STDOUT by default)
  start       Start one or more stopped containers
  stop        Stop one or more running containers
  tag         Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
  top         Display the running processes of a container
  unpause     Unpause all processes within one or more containers
  wait        Block until one or more containers stop, then print their exit codes

Global Options:
  -H, --host string      Daemon socket to connect to
  -h, --help             Print usage
  -v, --version          Print version information and quit

Run '{PROG} COMMAND --help' for more information on a command.
"""


def _globals(argv: list[str], env: dict[str, str]) -> tuple[str, list[str]]:
    """Strip the global flags before the verb; returns the host and the rest."""
    host = env.get("BERTH_HOST") or DEFAULT_HOST
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        arg = argv[i]
        if arg in ("-H", "--host"):
            if i + 1 >= len(argv):
                raise UsageError(f"flag needs an argument: {arg}")
            host, i = argv[i + 1], i + 2
        elif arg.startswith("--host="):
            host, i = arg.split("=", 1)[1], i + 1
        elif arg.startswith("-H") and len(arg) > 2:
            host, i = arg[2:].lstrip("="), i + 1
        elif arg in ("-D", "--debug"):
            i += 1
        elif arg in ("-v", "--version"):
            return host, ["--short-version"]
        elif arg in ("-h", "--help"):
            return host, []
        else:
            raise UsageError(f"unknown flag: {arg}")
    return host, argv[i:]


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
        verb = "See" if isinstance(err, ArgCountError) else "Run"
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
    try:
        host, words = _globals(words, env)
    except UsageError as err:
        sys.stderr.write(f"{err}\nSee '{PROG} --help'.\n")
        return 125
    ctx = Context(host, env.get("BERTH_API_VERSION") or DEFAULT_API_VERSION, env=env)
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
    from berth.client import DaemonUnreachable

    if isinstance(err, DaemonUnreachable):
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
