"""A mount to perform, as a snapshotter returns it (containerd's ``mount.Mount``).

Snapshotters describe mounts and never perform them; the shim performs the rootfs mounts
in its private mount namespace before it asks the runtime to create the container.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mount:
    type: str  # "overlay", "bind", "tmpfs", ...
    source: str
    options: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, object]:
        return {"type": self.type, "source": self.source, "options": list(self.options)}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Mount:
        opts = data.get("options") or []
        assert isinstance(opts, list)
        return cls(type=str(data["type"]), source=str(data["source"]),
                   options=tuple(str(o) for o in opts))
