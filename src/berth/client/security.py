"""The security half of a create request: ``--cap-add/--cap-drop``, ``--privileged``,
``--security-opt``, ``--group-add``, ``--sysctl``, ``--pid/--ipc/--uts``, ``--cgroupns``,
``--userns`` as docker's CLI sends them (issue 13)."""

from __future__ import annotations

from berth.client.models import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class ContainerSecurity(Value):
    """Nothing asked for yet: every container gets docker's defaults."""

    __slots__ = ()

    def fill(self, config: dict[str, Any], host: dict[str, Any]) -> None:
        """Write the Config and HostConfig fields as docker's CLI sends them."""
