"""``COPY --chown=user:group``: names resolved through the image's own ``/etc/passwd``
and ``/etc/group`` (never the host's), numeric ids taken as they are.

``--chown=user`` alone takes the user's primary group from ``/etc/passwd``, as buildkit
does; ``--chown=1000`` alone means ``1000:1000``. An unknown
name fails with the classic builder's wording::

    unable to convert uid/gid chown string to host mapping: can't find uid for user bob:
    no such user: bob
"""

from __future__ import annotations

from dataclasses import dataclass

from berth.errors import InvalidArgument
from berth.store.rootview import LayerTree

_PREFIX = "unable to convert uid/gid chown string to host mapping"


@dataclass(frozen=True)
class Owner:
    uid: int
    gid: int


ROOT = Owner(0, 0)


def _entries(tree: LayerTree, rel: str) -> list[list[str]]:
    """The colon-separated records of ``/etc/passwd`` or ``/etc/group``; none if absent."""
    try:
        with tree.open(rel) as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line.split(":") for line in text.splitlines()
            if line.strip() and not line.startswith("#")]


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() else None


# kind -> (its database, the id's name, how many fields a usable record has at least)
_DATABASES = {"user": ("etc/passwd", "uid", 4), "group": ("etc/group", "gid", 3)}


def _record(tree: LayerTree, kind: str, name: str) -> list[str]:
    """``name``'s record in the database of ``kind`` ("user" or "group"), its id (field 2)
    a number; the classic builder's error if there is none."""
    path, id_name, width = _DATABASES[kind]
    record = next((r for r in _entries(tree, path) if r[0] == name and len(r) >= width), None)
    if record is None or _number(record[2]) is None:
        raise InvalidArgument(f"{_PREFIX}: can't find {id_name} for {kind} {name}: "
                              f"no such {kind}: {name}")
    return record


def resolve_owner(chown: str | None, tree: LayerTree) -> Owner:
    """The numeric owner ``chown`` names in the image ``tree`` (root when not given)."""
    if not chown:
        return ROOT
    parts = chown.split(":")
    if len(parts) > 2 or not parts[0]:
        raise InvalidArgument(f"{_PREFIX}: invalid chown string format: {chown}")
    user = parts[0]
    group = parts[1] if len(parts) == 2 else None
    uid = _number(user)
    primary: int | None = uid
    if uid is None:
        record = _record(tree, "user", user)
        uid, primary = int(record[2]), _number(record[3])
    if not group:
        return Owner(uid, primary if primary is not None else uid)
    gid = _number(group)
    if gid is None:
        gid = int(_record(tree, "group", group)[2])
    return Owner(uid, gid)
