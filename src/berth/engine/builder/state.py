"""Where a stage's build stands between two steps: the image made so far (its config,
layers and layer blobs) plus what is not in any image (declared ARGs, whether CMD was
set in this stage)."""

from __future__ import annotations

import copy
import platform
from dataclasses import dataclass, field

from berth.engine.builder.args import StageArgs
from berth.oci.image import ContainerConfig, Descriptor, ImageConfig
from berth.store.metadata.images import LayerRecord

DEFAULT_SHELL = ("/bin/sh", "-c")
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
         "s390x": "s390x", "riscv64": "riscv64"}


@dataclass(frozen=True)
class BaseImage:
    """An image a stage starts from, with what committing on top of it needs."""

    id: str  # "" for scratch
    config: ImageConfig
    layers: tuple[LayerRecord, ...]
    blobs: tuple[Descriptor, ...]


def scratch() -> BaseImage:
    machine = platform.machine()
    return BaseImage("", {"architecture": _ARCH.get(machine, machine), "os": "linux",
                          "config": {}, "rootfs": {"type": "layers", "diff_ids": []},
                          "history": []}, (), ())


@dataclass
class StageState:
    image: BaseImage
    args: StageArgs
    escape: str
    cmd_set: bool = False  # CMD given in this stage: a later ENTRYPOINT keeps it
    config: ContainerConfig = field(init=False)

    def __post_init__(self) -> None:
        self.adopt(self.image)
        env = self.config.setdefault("Env", [])
        if not any(e.startswith("PATH=") for e in env):  # docker's setDefaultPath
            env.append(DEFAULT_PATH)

    def adopt(self, image: BaseImage) -> None:
        """Make ``image`` the current one; ``config`` is a private copy to change."""
        self.image = image
        self.config = copy.deepcopy(image.config.get("config") or {})

    @property
    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    @property
    def env(self) -> list[str]:
        return list(self.config.get("Env") or [])

    def expansion_env(self) -> dict[str, str]:
        return self.args.expansion_env(self.env)

    @property
    def depth(self) -> int:
        return len(self.image.config.get("history") or [])
