"""``run``/``create``'s security flags, parsed as docker 28's CLI parses them (issue 13)."""

from __future__ import annotations

from berth.cli.flags import Flag
from berth.client.security import ContainerSecurity

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.cli.flags import Options

SECURITY_FLAGS: tuple[Flag, ...] = ()


def security_config(opts: Options) -> ContainerSecurity | None:
    """The security options the flags ask for; None when none is given."""
    return None
