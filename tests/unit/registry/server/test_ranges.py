"""``Range`` reads of blobs (206 + Content-Range, 416 when unsatisfiable)."""

from __future__ import annotations

import pytest
from tests.unit.registry.server.images import Blob, push_monolithic

DATA = bytes(range(256)) * 40  # 10240 bytes
BLOB = Blob("application/octet-stream", DATA)


@pytest.fixture
def pushed(client):
    push_monolithic(client, "app", BLOB)
    return client


@pytest.mark.parametrize(("header", "first", "last"), [
    ("bytes=0-99", 0, 99),
    ("bytes=100-", 100, len(DATA) - 1),
    ("bytes=-10", len(DATA) - 10, len(DATA) - 1),
    ("bytes=10000-99999", 10000, len(DATA) - 1),
    ("bytes=5-5", 5, 5),
])
def test_partial_reads(pushed, header, first, last):
    r = pushed.get(f"/v2/app/blobs/{BLOB.digest}", headers={"Range": header})
    assert r.status == 206
    assert r.body == DATA[first:last + 1]
    assert r.headers["Content-Range"] == f"bytes {first}-{last}/{len(DATA)}"
    assert int(r.headers["Content-Length"]) == last - first + 1
    assert r.headers["Docker-Content-Digest"] == BLOB.digest


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=20000-30000", "bytes=50-10",
                                    "bytes=-0"])
def test_unsatisfiable_range_is_416(pushed, header):
    r = pushed.get(f"/v2/app/blobs/{BLOB.digest}", headers={"Range": header})
    assert r.status == 416
    assert r.headers["Content-Range"] == f"bytes */{len(DATA)}"


@pytest.mark.parametrize("header", ["items=0-5", "bytes=0-5,10-20", "garbage"])
def test_unsupported_range_forms_get_the_whole_blob(pushed, header):
    r = pushed.get(f"/v2/app/blobs/{BLOB.digest}", headers={"Range": header})
    assert (r.status, r.body) == (200, DATA)


def test_large_blob_streams_in_pieces(client):
    """Several MiB: bigger than every buffer on both sides of the server."""
    big = Blob("application/octet-stream", bytes(range(251)) * 20000)  # ~5 MiB
    push_monolithic(client, "app", big)
    r = client.get(f"/v2/app/blobs/{big.digest}")
    assert r.body == big.data
    r = client.get(f"/v2/app/blobs/{big.digest}", headers={"Range": "bytes=3000000-3000009"})
    assert r.body == big.data[3000000:3000010]
