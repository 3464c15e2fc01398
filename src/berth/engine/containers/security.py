"""A container's security options: what a create asks for of its capabilities, seccomp
profile and namespaces, and the spec options that hand them to the runtime.

    Security             the options (docker's HostConfig security fields)
    validate(sec)        docker's refusals at create
    spec_opts(sec)       the runtime.spec options, in the order they apply
"""

from __future__ import annotations

from dataclasses import dataclass

from berth.oci import spec as oci
from berth.runtime import host
from berth.runtime import spec as runtime_spec
from berth.runtime.spec import SpecOpt


@dataclass(frozen=True)
class Security:
    """Nothing to choose yet: every container gets docker's defaults."""


def validate(sec: Security) -> None:
    """Refuse what docker refuses at create."""


def spec_opts(sec: Security) -> list[SpecOpt]:
    return [with_default_seccomp]


def with_default_seccomp(spec: oci.Spec) -> None:
    """Docker's default profile; RuntimeFailure if it cannot be loaded (the container does
    not start without the default the user did not turn off)."""
    runtime_spec.with_seccomp(host.default_seccomp())(spec)
