"""What one build is asked to do, and where its progress goes.

``BuildOptions`` is the classic ``POST /build`` query without its HTTP spelling; the API
layer fills it and renders ``BuildOutput`` calls as docker's JSON lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from berth.engine.images.pull import PullProgress
from berth.errors import InvalidArgument

# ``RUN --network=``: BuildKit's three modes. "default" (or no flag) is the build's own
# network, i.e. ``docker build --network`` (itself the default bridge unless given).
RUN_NETWORK_MODES = frozenset({"", "default", "host", "none"})
_DEFAULT_MODES = ("", "default")


@dataclass(frozen=True)
class StepNetwork:
    """The network of one RUN container: a ContainerSpec ``network_mode`` (the build's
    ``--network``, or the step's ``RUN --network``) and the build's ``--add-host``s."""

    mode: str = "default"
    extra_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuildOptions:
    tags: tuple[str, ...] = ()
    dockerfile: str = "Dockerfile"
    build_args: tuple[tuple[str, str], ...] = ()
    target: str = ""
    no_cache: bool = False
    pull: bool = False
    labels: tuple[tuple[str, str], ...] = ()
    remove: bool = True  # rm: remove the containers of steps that succeed
    force_remove: bool = False  # forcerm (berth removes failed steps' containers anyway)
    network_mode: str = ""  # "", default, bridge, host, none or a user network's name
    extra_hosts: tuple[str, ...] = ()  # --add-host "name:ip" ("host-gateway" allowed)
    cache_from: tuple[str, ...] = ()  # the only cache sources (with their parents) if set
    platform: str = ""

    def __post_init__(self) -> None:
        if self.network_mode.startswith("container:"):
            raise InvalidArgument(
                f"network mode {self.network_mode!r} is not supported for builds "
                "(use default, bridge, host, none or a network's name)")

    def step_network(self, run_flag: str | None) -> StepNetwork:
        """What a RUN step's container joins: its ``--network`` flag unless that is
        absent or "default", else the build's network (the default bridge if unset, as
        docker's classic builder does)."""
        mode = run_flag if run_flag and run_flag != "default" else self.network_mode
        return StepNetwork(mode="default" if mode in _DEFAULT_MODES else mode,
                           extra_hosts=self.extra_hosts)


class BuildOutput(Protocol):
    """Where a build reports, as it happens."""

    async def stream(self, text: str) -> None:
        """Text for the user: step headers, the output of RUN, warnings."""
        ...

    async def stderr(self, text: str) -> None:
        """What a RUN step wrote to its standard error, as it came (docker's stream
        marks each piece red; stdout goes to :meth:`stream` as it is)."""
        ...

    async def aux(self, image_id: str) -> None:
        """The ID of the image built (docker's ``{"aux":{"ID":...}}``)."""
        ...

    async def pull(self, name: str, event: PullProgress) -> None:
        """Progress of pulling the image ``name`` a FROM or ``COPY --from`` needs, shown
        as ``docker pull`` shows it (the classic builder streams the pull's JSON)."""
        ...

    async def status(self, text: str) -> None:
        """A status line of such a pull (``Digest: ...``, ``Status: ...``)."""
        ...


@dataclass(frozen=True)
class BuildResult:
    image_id: str
    tags: tuple[str, ...]  # familiar references, as "Successfully tagged" prints them
