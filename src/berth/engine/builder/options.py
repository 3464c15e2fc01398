"""What one build is asked to do, and where its progress goes.

``BuildOptions`` is the classic ``POST /build`` query without its HTTP spelling; the API
layer fills it and renders ``BuildOutput`` calls as docker's JSON lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from berth.engine.images.pull import PullProgress
from berth.errors import InvalidArgument

# Networking is not implemented yet: every RUN container has only a loopback device, so
# these modes all mean the same; the names are accepted for docker/compose compatibility.
NETWORK_MODES = frozenset({"", "default", "bridge", "host", "none"})


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
    network_mode: str = ""
    cache_from: tuple[str, ...] = ()  # the only cache sources (with their parents) if set
    platform: str = ""

    def __post_init__(self) -> None:
        if self.network_mode not in NETWORK_MODES:
            raise InvalidArgument(
                f"network mode {self.network_mode!r} is not supported for builds yet "
                "(use default, bridge, host or none)")


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
