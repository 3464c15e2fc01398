"""The content store: blobs by digest, written only through a verifying ingest.

On-disk layout under the data root::

    <root>/content/
      blobs/sha256/<hex>      committed blobs, immutable, named by their digest
      ingest/<random>         a write in progress; hashed as it is written

A writer hashes every byte it is given, and ``commit`` checks the expected digest and size,
fsyncs and renames the ingest file into ``blobs/``. Nothing unverified is ever visible under
a digest, and a crash leaves at most an ingest file that ``cleanup`` removes.
"""

from berth.store.content.store import ContentStore, Info, Writer

__all__ = ["ContentStore", "Info", "Writer"]
