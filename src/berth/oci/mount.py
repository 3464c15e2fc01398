"""A mount to perform, as a snapshotter returns it (containerd's ``mount.Mount``).

Snapshotters describe mounts and never perform them; the shim performs the rootfs mounts
in its private mount namespace before it asks the runtime to create the container.
``target`` (containerd 2's ``Mount.Target``) is where a mount goes inside the container,
for the mounts a container asks for besides its rootfs (a build's ``RUN --mount``); a
rootfs mount has none.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mount:
    type: str  # "overlay", "bind", "tmpfs", ...
    source: str
    options: tuple[str, ...] = field(default_factory=tuple)
    target: str = ""

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"type": self.type, "source": self.source,
                                  "options": list(self.options)}
        if self.target:
            out["target"] = self.target
        return out

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Mount:
        opts = data.get("options") or []
        assert isinstance(opts, list)
        return cls(type=str(data["type"]), source=str(data["source"]),
                   options=tuple(str(o) for o in opts), target=str(data.get("target") or ""))
