"""Network records, the addresses handed out on them and the host ports published.

    networks   id, name UNIQUE, document            one row per network (predefined too)
    endpoints  network_id, container_id, address,   one row per network a running
               document; UNIQUE(network_id,         container is on: the address is
               address)                             unique per network, across restarts
    ports      proto, host_ip, host_port,           one row per published host port
               container_id, document

An allocation is one transaction: read what is used, pick, insert. The UNIQUE constraint
is the last word, so two daemons' worth of races (or a crash between the read and the
insert) can never hand one address out twice. Rows exist only while a container runs
(its prepare inserts them, its release deletes them); what a dead daemon left is freed
at the next start (``keep_only``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from berth.errors import BerthError, Conflict
from berth.store.metadata.db import Database

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS networks (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        document TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS endpoints (
        network_id TEXT NOT NULL,
        container_id TEXT NOT NULL,
        address TEXT,
        document TEXT NOT NULL,
        PRIMARY KEY (network_id, container_id),
        UNIQUE (network_id, address)
    )""",
    """CREATE TABLE IF NOT EXISTS ports (
        proto TEXT NOT NULL,
        host_ip TEXT NOT NULL,
        host_port INTEGER NOT NULL,
        container_id TEXT NOT NULL,
        document TEXT NOT NULL,
        PRIMARY KEY (proto, host_ip, host_port)
    )""",
]

ANY_IPV4 = "0.0.0.0"

# The addresses in use on a network → the one to hand out (raises if none is left).
Pick = Callable[[set[str]], str]


@dataclass(frozen=True)
class EndpointRow:
    network_id: str
    container_id: str
    address: str
    document: str


@dataclass(frozen=True)
class PortRow:
    proto: str
    host_ip: str
    host_port: int
    container_id: str
    document: str


@dataclass(frozen=True)
class PortRequest:
    """One host port to reserve: ``host_port`` 0 picks from ``candidates`` (in order)."""

    proto: str
    host_ip: str
    host_port: int
    document: str
    candidates: Sequence[int] = ()


class NetworkRecords:
    def __init__(self, db: Database) -> None:
        self._db = db
        db.ensure_schema(_SCHEMA)

    # ── networks ─────────────────────────────────────────────────────────────────────

    def insert_network(self, network_id: str, name: str, document: str) -> None:
        try:
            with self._db.transaction() as cur:
                cur.execute("INSERT INTO networks (id, name, document) VALUES (?, ?, ?)",
                            (network_id, name, document))
        except sqlite3.IntegrityError as err:
            raise Conflict(f"network with name {name} already exists") from err

    def delete_network(self, network_id: str) -> None:
        with self._db.transaction() as cur:
            cur.execute("DELETE FROM endpoints WHERE network_id = ?", (network_id,))
            cur.execute("DELETE FROM networks WHERE id = ?", (network_id,))

    def networks(self) -> list[str]:
        return [r["document"] for r in self._db.query("SELECT document FROM networks")]

    # ── endpoints ────────────────────────────────────────────────────────────────────

    def allocate(self, network_id: str, container_id: str, pick: Pick,
                 document: str) -> str:
        """Insert ``container_id``'s endpoint on ``network_id`` with the address ``pick``
        chooses given the addresses in use, in one transaction; returns the address.
        An endpoint the container already had there is replaced."""
        try:
            with self._db.transaction() as cur:
                cur.execute("DELETE FROM endpoints WHERE network_id = ? AND container_id = ?",
                            (network_id, container_id))
                used = {r[0] for r in cur.execute(
                    "SELECT address FROM endpoints WHERE network_id = ? AND address IS NOT "
                    "NULL", (network_id,))}
                address = pick(used)
                cur.execute("INSERT INTO endpoints (network_id, container_id, address, "
                            "document) VALUES (?, ?, ?, ?)",
                            (network_id, container_id, address or None, document))
        except sqlite3.IntegrityError as err:
            raise Conflict(f"Address already in use on network {network_id[:12]}") from err
        return address

    def update_endpoint(self, network_id: str, container_id: str, document: str) -> None:
        with self._db.transaction() as cur:
            cur.execute("UPDATE endpoints SET document = ? WHERE network_id = ? AND "
                        "container_id = ?", (document, network_id, container_id))

    def free_endpoint(self, network_id: str, container_id: str) -> None:
        with self._db.transaction() as cur:
            cur.execute("DELETE FROM endpoints WHERE network_id = ? AND container_id = ?",
                        (network_id, container_id))

    def endpoints(self, container_id: str | None = None) -> list[EndpointRow]:
        """All endpoints, or those of one container."""
        sql = "SELECT network_id, container_id, address, document FROM endpoints"
        rows = (self._db.query(sql) if container_id is None
                else self._db.query(sql + " WHERE container_id = ?", (container_id,)))
        return [EndpointRow(r[0], r[1], r[2] or "", r[3]) for r in rows]

    # ── ports ────────────────────────────────────────────────────────────────────────

    def reserve_ports(self, container_id: str, requests: Sequence[PortRequest],
                      is_free: Callable[[str, str, int], bool]) -> list[PortRow]:
        """Reserve every requested host port for ``container_id`` in one transaction, or
        none. A port another container of this daemon holds is docker's "port is already
        allocated" (0.0.0.0 overlaps every address); a port 0 takes the first candidate
        that is neither held nor refused by ``is_free`` (proto, ip, port)."""
        rows: list[PortRow] = []
        with self._db.transaction() as cur:
            held = [(r[0], r[1], r[2]) for r in cur.execute(
                "SELECT proto, host_ip, host_port FROM ports WHERE container_id != ?",
                (container_id,))]
            cur.execute("DELETE FROM ports WHERE container_id = ?", (container_id,))
            for req in requests:
                port = req.host_port or _first_free(req, held, is_free)
                if _clashes(req.proto, req.host_ip, port, held):
                    raise Conflict(f"Bind for {req.host_ip}:{port} failed: port is "
                                   "already allocated")
                held.append((req.proto, req.host_ip, port))
                cur.execute("INSERT INTO ports (proto, host_ip, host_port, container_id, "
                            "document) VALUES (?, ?, ?, ?, ?)",
                            (req.proto, req.host_ip, port, container_id, req.document))
                rows.append(PortRow(req.proto, req.host_ip, port, container_id,
                                    req.document))
        return rows

    def ports(self, container_id: str | None = None) -> list[PortRow]:
        sql = "SELECT proto, host_ip, host_port, container_id, document FROM ports"
        rows = (self._db.query(sql) if container_id is None
                else self._db.query(sql + " WHERE container_id = ?", (container_id,)))
        return [PortRow(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def free_ports(self, container_id: str) -> None:
        with self._db.transaction() as cur:
            cur.execute("DELETE FROM ports WHERE container_id = ?", (container_id,))

    def keep_only(self, container_ids: Iterable[str]) -> int:
        """Free the endpoints and ports of every container not in ``container_ids`` (what
        a daemon or container killed -9 left); how many rows went."""
        keep = set(container_ids)
        gone = {r.container_id for r in self.endpoints()} | {
            r.container_id for r in self.ports()}
        gone -= keep
        count = 0
        with self._db.transaction() as cur:
            for cid in gone:
                count += cur.execute("DELETE FROM endpoints WHERE container_id = ?",
                                     (cid,)).rowcount
                count += cur.execute("DELETE FROM ports WHERE container_id = ?",
                                     (cid,)).rowcount
        return count


def _clashes(proto: str, host_ip: str, port: int, held: Iterable[tuple[str, str, int]]
             ) -> bool:
    return any(p == proto and hp == port and (ip == host_ip or ANY_IPV4 in (ip, host_ip))
               for p, ip, hp in held)


def _first_free(req: PortRequest, held: list[tuple[str, str, int]],
                is_free: Callable[[str, str, int], bool]) -> int:
    for port in req.candidates:
        if not _clashes(req.proto, req.host_ip, port, held) and is_free(
                req.proto, req.host_ip, port):
            return port
    raise BerthError(f"no free host port for {req.host_ip}/{req.proto} in "
                     f"{req.candidates[0] if req.candidates else 0}-"
                     f"{req.candidates[-1] if req.candidates else 0}")

