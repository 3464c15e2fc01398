"""Image, tag and layer records (moby ``image/store`` + ``reference/store``, containerd
``metadata/images``), in the shared metadata database.

    images        id (= config digest) → config/manifest digests, created, size, parent
    tags          full reference ("docker.io/library/busybox:latest", or "...@sha256:...")
                  → image id
    layers        chain_id → diff_id, parent chain, depth, snapshot name, size
    image_layers  which layers an image stacks          (references for layer GC)
    image_blobs   which content blobs an image needs    (references for blob GC)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from berth.store.metadata.db import Database

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS images (
        id TEXT PRIMARY KEY,
        config_digest TEXT NOT NULL,
        manifest_digest TEXT,
        created TEXT NOT NULL,
        size INTEGER NOT NULL,
        parent TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE IF NOT EXISTS tags (
        name TEXT PRIMARY KEY,
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
    )""",
    "CREATE INDEX IF NOT EXISTS tags_image ON tags(image_id)",
    """CREATE TABLE IF NOT EXISTS layers (
        chain_id TEXT PRIMARY KEY,
        diff_id TEXT NOT NULL,
        parent TEXT,
        depth INTEGER NOT NULL,
        snapshot TEXT NOT NULL,
        size INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS image_layers (
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        chain_id TEXT NOT NULL REFERENCES layers(chain_id),
        PRIMARY KEY (image_id, chain_id)
    )""",
    """CREATE TABLE IF NOT EXISTS image_blobs (
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        digest TEXT NOT NULL,
        PRIMARY KEY (image_id, digest)
    )""",
]


@dataclass(frozen=True)
class ImageRecord:
    id: str
    config_digest: str
    manifest_digest: str | None
    created: str
    size: int
    parent: str


@dataclass(frozen=True)
class TagRecord:
    name: str  # full normalised reference
    image_id: str


@dataclass(frozen=True)
class LayerRecord:
    chain_id: str
    diff_id: str
    parent: str | None  # chain id of the layer below
    depth: int  # 0 for a base layer
    snapshot: str  # committed snapshot name
    size: int


def _image(row: sqlite3.Row) -> ImageRecord:
    return ImageRecord(id=row["id"], config_digest=row["config_digest"],
                       manifest_digest=row["manifest_digest"], created=row["created"],
                       size=row["size"], parent=row["parent"])


def _layer(row: sqlite3.Row) -> LayerRecord:
    return LayerRecord(chain_id=row["chain_id"], diff_id=row["diff_id"], parent=row["parent"],
                       depth=row["depth"], snapshot=row["snapshot"], size=row["size"])


class ImageStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema(_SCHEMA)

    # images

    def put_image(self, image: ImageRecord, chain_ids: Iterable[str],
                  blobs: Iterable[str]) -> None:
        """Record an image and its references; an existing image of that id is kept."""
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT OR IGNORE INTO images (id, config_digest, manifest_digest, created,"
                " size, parent) VALUES (?, ?, ?, ?, ?, ?)",
                (image.id, image.config_digest, image.manifest_digest, image.created,
                 image.size, image.parent))
            cur.executemany("INSERT OR IGNORE INTO image_layers VALUES (?, ?)",
                            [(image.id, c) for c in chain_ids])
            cur.executemany("INSERT OR IGNORE INTO image_blobs VALUES (?, ?)",
                            [(image.id, d) for d in blobs])

    def get_image(self, image_id: str) -> ImageRecord | None:
        rows = self.db.query("SELECT * FROM images WHERE id = ?", (image_id,))
        return _image(rows[0]) if rows else None

    def find_images(self, id_prefix: str) -> list[ImageRecord]:
        """Images whose id starts with ``id_prefix`` ("sha256:" + hex prefix)."""
        escaped = id_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self.db.query("SELECT * FROM images WHERE id LIKE ? ESCAPE '\\'",
                             (escaped + "%",))
        return [_image(r) for r in rows]

    def list_images(self) -> list[ImageRecord]:
        return [_image(r) for r in self.db.query("SELECT * FROM images ORDER BY created DESC")]

    def children(self, image_id: str) -> list[str]:
        return [r["id"] for r in self.db.query("SELECT id FROM images WHERE parent = ?",
                                               (image_id,))]

    def delete_image(self, image_id: str) -> None:
        """Delete an image with its tags and references (one transaction)."""
        with self.db.transaction() as cur:
            for table in ("tags", "image_layers", "image_blobs"):
                cur.execute(f"DELETE FROM {table} WHERE image_id = ?", (image_id,))
            cur.execute("DELETE FROM images WHERE id = ?", (image_id,))

    # tags

    def set_tag(self, name: str, image_id: str) -> None:
        with self.db.transaction() as cur:
            cur.execute("INSERT OR REPLACE INTO tags (name, image_id) VALUES (?, ?)",
                        (name, image_id))

    def remove_tag(self, name: str) -> None:
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM tags WHERE name = ?", (name,))

    def resolve_tag(self, name: str) -> str | None:
        rows = self.db.query("SELECT image_id FROM tags WHERE name = ?", (name,))
        return str(rows[0]["image_id"]) if rows else None

    def tags_of(self, image_id: str) -> list[str]:
        rows = self.db.query("SELECT name FROM tags WHERE image_id = ? ORDER BY name",
                             (image_id,))
        return [r["name"] for r in rows]

    def list_tags(self) -> list[TagRecord]:
        return [TagRecord(r["name"], r["image_id"])
                for r in self.db.query("SELECT * FROM tags ORDER BY name")]

    # layers

    def put_layer(self, layer: LayerRecord) -> None:
        with self.db.transaction() as cur:
            cur.execute("INSERT OR REPLACE INTO layers VALUES (?, ?, ?, ?, ?, ?)",
                        (layer.chain_id, layer.diff_id, layer.parent, layer.depth,
                         layer.snapshot, layer.size))

    def get_layer(self, chain_id: str) -> LayerRecord | None:
        rows = self.db.query("SELECT * FROM layers WHERE chain_id = ?", (chain_id,))
        return _layer(rows[0]) if rows else None

    def unreferenced_layers(self) -> list[LayerRecord]:
        """Layers no image stacks, topmost first (so children go before their parents)."""
        rows = self.db.query(
            "SELECT * FROM layers l WHERE NOT EXISTS"
            " (SELECT 1 FROM image_layers il WHERE il.chain_id = l.chain_id)"
            " ORDER BY depth DESC")
        return [_layer(r) for r in rows]

    def delete_layer(self, chain_id: str) -> None:
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM layers WHERE chain_id = ?", (chain_id,))

    # blobs

    def blobs_of(self, image_id: str) -> list[str]:
        """The blobs image ``image_id`` keeps (its layers', config, manifest)."""
        return [r["digest"] for r in self.db.query(
            "SELECT digest FROM image_blobs WHERE image_id = ? ORDER BY digest", (image_id,))]

    def referenced_blobs(self) -> set[str]:
        return {r["digest"] for r in self.db.query("SELECT DISTINCT digest FROM image_blobs")}
