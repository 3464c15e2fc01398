"""Build arguments: which ``--build-arg`` values a stage may see (moby ``buildargs.go``).

* A build arg is visible in a stage only once an ``ARG`` there declares it; its value is
  the ``--build-arg`` value, else the ARG's default, else the global (pre-FROM) ARG's.
* ENV wins over ARG of the same name, both when expanding ``$VAR`` and in RUN's
  environment.
* The predefined proxy args reach RUN's environment when given, undeclared, but stay out
  of the image history (and so out of the cache key) unless declared.
* A build arg that no ARG (global or in a stage that ran) declared draws docker's
  ``[Warning] One or more build-args [X] were not consumed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from berth.engine.builder.instructions import ArgDecl
from berth.engine.builder.lex import expand

PROXY_ARGS = frozenset({
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
    "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
})


@dataclass
class ArgUsage:
    """Shared by every stage of a build: what was given, and what got declared."""

    given: Mapping[str, str]
    global_env: Mapping[str, str]  # values of the global ARGs
    referenced: set[str] = field(default_factory=set)

    def unused(self) -> list[str]:
        return sorted(k for k in self.given if k not in self.referenced and k not in PROXY_ARGS)


def env_map(env: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env:
        key, _, value = item.partition("=")
        out[key] = value
    return out


class StageArgs:
    """The ARGs one stage declared so far."""

    def __init__(self, usage: ArgUsage) -> None:
        self.usage = usage
        self.values: dict[str, str | None] = {}

    def declare(self, decl: ArgDecl, env: Mapping[str, str], escape: str) -> str | None:
        """Declare ``decl`` (default expanded with ``env``); returns the default as expanded."""
        default = expand(decl.default, env, escape) if decl.default is not None else None
        if decl.name in self.usage.given:
            value: str | None = self.usage.given[decl.name]
        elif default is not None:
            value = default
        else:
            value = self.usage.global_env.get(decl.name)
        self.values[decl.name] = value
        self.usage.referenced.add(decl.name)
        return default

    def allowed(self, config_env: Iterable[str]) -> list[str]:
        """``K=V`` of the args RUN sees: declared ones with a value and given proxy args,
        minus those ENV sets (``FilterAllowed``)."""
        env = env_map(config_env)
        out = [f"{k}={v}" for k, v in self.values.items() if v is not None and k not in env]
        out += [f"{k}={v}" for k, v in self.usage.given.items()
                if k in PROXY_ARGS and k not in self.values and k not in env]
        return out

    def expansion_env(self, config_env: Iterable[str]) -> dict[str, str]:
        """What ``$VAR`` sees in the stage: the declared args under ENV."""
        env = {k: v for k, v in self.values.items() if v is not None}
        env.update(env_map(config_env))
        return env

    def in_history(self, allowed: Iterable[str]) -> list[str]:
        """The ``allowed`` entries docker records before a RUN's command: not the proxy
        args unless declared (``IsReferencedOrNotBuiltin``)."""
        return sorted(kv for kv in allowed
                      if (key := kv.partition("=")[0]) not in PROXY_ARGS or key in self.values)
