"""The instructions that change only the image config (and WORKDIR's config half): each
updates the stage's config and returns the history text docker records for it.

Arguments are expanded here, with the stage's ARGs under its ENV, for the instructions
docker expands (:data:`berth.engine.builder.lex.EXPANDED`); RUN/CMD/ENTRYPOINT/SHELL/
HEALTHCHECK are left to the container's shell.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from berth.engine.builder import history
from berth.engine.builder import instructions as ins
from berth.engine.builder.args import env_map
from berth.engine.builder.errors import DockerfileError
from berth.engine.builder.lex import expand, expand_words
from berth.engine.builder.state import StageState
from berth.engine.containers import signals
from berth.errors import InvalidArgument

_PORT = re.compile(r"^(\d+)(?:-(\d+))?(?:/(tcp|udp|sctp))?$", re.IGNORECASE)


@dataclass(frozen=True)
class ConfigChange:
    created_by: str
    author: str | None = None  # MAINTAINER sets the image's author


def command_argv(state: StageState, command: ins.CommandLine) -> list[str]:
    """CMD/ENTRYPOINT/RUN arguments as the config stores them: the shell form runs in SHELL."""
    if command.prepend_shell:
        return [*state.shell, *command.args]
    return list(command.args)


def apply(state: StageState, node: ins.Instruction) -> ConfigChange:
    """Apply a metadata instruction to ``state.config``; raises DockerfileError."""
    try:
        return _apply(state, node)
    except InvalidArgument as err:
        if isinstance(err, DockerfileError) and err.line is not None:
            raise
        raise DockerfileError(err.message, node.line) from None


def _apply(state: StageState, node: ins.Instruction) -> ConfigChange:
    cfg = state.config
    env = state.expansion_env()
    esc = state.escape

    def nop(text: str) -> ConfigChange:
        return ConfigChange(history.nop(state.shell, text))

    if isinstance(node, ins.Env):
        current = env_map(state.env)
        texts = []
        for pair in node.pairs:
            key, value = expand(pair.key, env, esc), expand(pair.value, env, esc)
            current[key] = value
            env[key] = value  # later pairs of the same ENV see earlier ones
            texts.append(f"{key}={value}")
        cfg["Env"] = [f"{k}={v}" for k, v in current.items()]
        return nop("ENV " + " ".join(texts))
    if isinstance(node, ins.Label):
        labels = cfg.setdefault("Labels", {}) or {}
        texts = []
        for pair in node.pairs:
            key, value = expand(pair.key, env, esc), expand(pair.value, env, esc)
            labels[key] = value
            texts.append(f"{key}={value}")
        cfg["Labels"] = labels
        return nop("LABEL " + " ".join(texts))
    if isinstance(node, ins.Arg):
        texts = []
        for decl in node.args:
            default = state.args.declare(decl, env, esc)
            texts.append(decl.name if default is None else f"{decl.name}={default}")
            env = state.expansion_env()
        return nop("ARG " + " ".join(texts))
    if isinstance(node, ins.Maintainer):
        return ConfigChange(history.nop(state.shell, f"MAINTAINER {node.name}"), node.name)
    if isinstance(node, ins.User):
        cfg["User"] = expand(node.user, env, esc)
        return nop(f"USER {cfg['User']}")
    if isinstance(node, ins.Workdir):
        path = expand(node.path, env, esc)
        cfg["WorkingDir"] = posixpath.normpath(posixpath.join(cfg.get("WorkingDir") or "/",
                                                              path))
        return ConfigChange(history.nop_string(state.shell, f"WORKDIR {cfg['WorkingDir']}"))
    if isinstance(node, ins.Expose):
        words = [w for port in node.ports for w in expand_words(port, env, esc)]
        exposed = cfg.setdefault("ExposedPorts", {}) or {}
        for word in words:
            for port in _ports(word):
                exposed[port] = {}
        cfg["ExposedPorts"] = exposed
        return nop("EXPOSE " + " ".join(words))
    if isinstance(node, ins.Volume):
        volumes = cfg.setdefault("Volumes", {}) or {}
        paths = [expand(p, env, esc).strip() for p in node.paths]
        for path in paths:
            if not path:
                raise DockerfileError("VOLUME specified can not be an empty string", node.line)
            volumes[path] = {}
        cfg["Volumes"] = volumes
        return nop("VOLUME " + history.go_list(paths))
    if isinstance(node, ins.StopSignal):
        sig = expand(node.signal, env, esc)
        signals.parse(sig)
        cfg["StopSignal"] = sig
        return nop(f"STOPSIGNAL {sig}")
    if isinstance(node, ins.Healthcheck):
        return nop(_healthcheck(state, node))
    if isinstance(node, ins.Onbuild):
        cfg["OnBuild"] = [*(cfg.get("OnBuild") or []), node.expression]
        return nop(f"ONBUILD {node.expression}")
    if isinstance(node, ins.Shell):
        cfg["Shell"] = list(node.shell)
        return nop("SHELL " + history.go_list(node.shell))
    if isinstance(node, ins.Cmd):
        cmd = command_argv(state, node.command)
        cfg["Cmd"] = cmd
        state.cmd_set = True
        return nop("CMD " + history.go_quoted_list(cmd))
    if isinstance(node, ins.Entrypoint):
        entrypoint = command_argv(state, node.command)
        cfg["Entrypoint"] = entrypoint
        if not state.cmd_set:  # an inherited CMD does not outlive a new ENTRYPOINT
            cfg["Cmd"] = None
        return nop("ENTRYPOINT " + history.go_quoted_list(entrypoint))
    raise DockerfileError(f"{node.keyword} is not a metadata instruction", node.line)


def _healthcheck(state: StageState, node: ins.Healthcheck) -> str:
    check: dict[str, object] = {"Test": list(node.test)}
    if node.test != ("NONE",):
        for key, value in (("Interval", node.interval), ("Timeout", node.timeout),
                           ("StartPeriod", node.start_period),
                           ("StartInterval", node.start_interval), ("Retries", node.retries)):
            if value:
                check[key] = value
    state.config["Healthcheck"] = check
    return history.healthcheck(node.test, (node.interval, node.timeout, node.start_period,
                                           node.start_interval), node.retries)


def _ports(word: str) -> list[str]:
    match = _PORT.match(word)
    if match is None:
        raise DockerfileError(f"Invalid containerPort: {word}")
    first = int(match.group(1))
    last = int(match.group(2) or first)
    if last < first:
        raise DockerfileError(f"Invalid range specified for the Port: {word}")
    proto = (match.group(3) or "tcp").lower()
    return [f"{port}/{proto}" for port in range(first, last + 1)]
