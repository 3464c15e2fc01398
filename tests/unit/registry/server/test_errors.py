"""What a registry must refuse, with the spec's codes and statuses."""

from __future__ import annotations

import json

import pytest
from tests.unit.registry.server.images import (
    OCI_MANIFEST,
    digest_of,
    make_image,
    manifest_blob,
    push_image,
    push_monolithic,
)

from berth.registry.server import RegistryOptions


def _start(client, name="app"):
    r = client.request("POST", f"/v2/{name}/blobs/uploads/")
    assert r.status == 202
    return r.headers["Location"]


def test_error_body_is_the_spec_json(client):
    r = client.get(f"/v2/app/blobs/{digest_of(b'nothing')}")
    assert r.status == 404
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown to registry",
                                    "detail": {"digest": digest_of(b"nothing")}}]}


def test_monolithic_digest_mismatch_is_digest_invalid_and_cancels(client):
    location = _start(client)
    r = client.request("PUT", f"{location}?digest={digest_of(b'other')}", body=b"content")
    assert (r.status, r.error_codes) == (400, ["DIGEST_INVALID"])
    assert r.json()["errors"][0]["detail"]["actual"] == digest_of(b"content")
    assert client.get(location).error_codes == ["BLOB_UPLOAD_UNKNOWN"]
    assert client.head(f"/v2/app/blobs/{digest_of(b'other')}").status == 404


def test_truncated_upload_fails_digest_check(client):
    """A client that stops sending halfway commits a blob that does not hash to its digest."""
    blob = make_image().layers[0]
    location = _start(client)
    half = len(blob.data) // 2
    client.request("PATCH", location, body=blob.data[:half], headers={"Content-Range":
                                                                       f"0-{half - 1}"})
    r = client.request("PUT", f"{location}?digest={blob.digest}")
    assert (r.status, r.error_codes) == (400, ["DIGEST_INVALID"])
    assert client.head(f"/v2/app/blobs/{blob.digest}").status == 404


def test_chunk_shorter_than_its_content_range_is_size_invalid(client):
    location = _start(client)
    r = client.request("PATCH", location, body=b"abc", headers={"Content-Range": "0-9"},
                       chunked=True)
    assert (r.status, r.error_codes) == (400, ["SIZE_INVALID"])
    r = client.get(location)  # what did arrive is kept, and the client may resume from it
    assert r.headers["Range"] == "0-2"


def test_content_length_disagreeing_with_content_range_is_size_invalid(client):
    location = _start(client)
    r = client.request("PATCH", location, body=b"abc", headers={"Content-Range": "0-9"})
    assert (r.status, r.error_codes) == (400, ["SIZE_INVALID"])
    assert client.get(location).headers["Range"] == "0-0"


@pytest.mark.parametrize("content_range", ["5-9", "0-4", "bogus", "9-5"])
def test_out_of_order_or_malformed_content_range_is_416(client, content_range):
    location = _start(client)
    assert client.request("PATCH", location, body=b"abc", headers={
        "Content-Range": "0-2"}).status == 202
    r = client.request("PATCH", location, body=b"defgh", headers={
        "Content-Range": content_range})
    assert r.status == 416
    assert client.get(location).headers["Range"] == "0-2"


def test_unknown_upload(client):
    r = client.request("PATCH", "/v2/app/blobs/uploads/not-a-uuid", body=b"x")
    assert (r.status, r.error_codes) == (404, ["BLOB_UPLOAD_UNKNOWN"])
    location = _start(client, "one")
    r = client.request("PATCH", location.replace("/one/", "/two/"), body=b"x")
    assert (r.status, r.error_codes) == (404, ["BLOB_UPLOAD_UNKNOWN"])


def test_put_without_digest_is_digest_invalid(client):
    r = client.request("PUT", _start(client), body=b"x")
    assert (r.status, r.error_codes) == (400, ["DIGEST_INVALID"])


def test_unsupported_digest_algorithm(client):
    r = client.request("PUT", f"{_start(client)}?digest=sha512:{'a' * 128}", body=b"x")
    assert (r.status, r.error_codes) == (400, ["DIGEST_INVALID"])


def test_manifest_referencing_a_missing_blob(client):
    image = make_image()
    for blob in image.blobs[:-1]:
        push_monolithic(client, "app", blob)
    r = client.request("PUT", "/v2/app/manifests/v1", body=image.manifest.data,
                       headers={"Content-Type": OCI_MANIFEST})
    assert (r.status, r.error_codes) == (400, ["MANIFEST_BLOB_UNKNOWN"])
    assert r.json()["errors"][0]["detail"]["digest"] == image.layers[-1].digest
    assert client.get("/v2/app/manifests/v1").status == 404


def test_index_referencing_a_missing_manifest(client):
    image = make_image()
    index = manifest_blob({"schemaVersion": 2, "manifests": [image.manifest.descriptor()]},
                          "application/vnd.oci.image.index.v1+json")
    r = client.request("PUT", "/v2/app/manifests/v1", body=index.data,
                       headers={"Content-Type": index.media_type})
    assert (r.status, r.error_codes) == (400, ["MANIFEST_BLOB_UNKNOWN"])


def test_descriptor_size_must_match_the_blob(client):
    image = make_image()
    for blob in image.blobs:
        push_monolithic(client, "app", blob)
    doc = json.loads(image.manifest.data)
    doc["layers"][0]["size"] += 1
    bad = manifest_blob(doc)
    r = client.request("PUT", "/v2/app/manifests/v1", body=bad.data,
                       headers={"Content-Type": OCI_MANIFEST})
    assert (r.status, r.error_codes) == (400, ["MANIFEST_INVALID"])


def test_oversized_manifest_is_413(serve):
    client = serve(RegistryOptions(max_manifest_size=1024))
    r = client.request("PUT", "/v2/app/manifests/v1", body=b" " * 2048,
                       headers={"Content-Type": OCI_MANIFEST})
    assert (r.status, r.error_codes) == (413, ["MANIFEST_INVALID"])
    r = client.request("PUT", "/v2/app/manifests/v1", body=b" " * 2048, chunked=True,
                       headers={"Content-Type": OCI_MANIFEST})
    assert (r.status, r.error_codes) == (413, ["MANIFEST_INVALID"])


def test_default_manifest_limit_is_4_mib(client):
    body = b'{"schemaVersion": 2, "pad": "' + b"x" * (4 * 1024 * 1024) + b'"}'
    r = client.request("PUT", "/v2/app/manifests/v1", body=body,
                       headers={"Content-Type": OCI_MANIFEST})
    assert (r.status, r.error_codes) == (413, ["MANIFEST_INVALID"])


@pytest.mark.parametrize(("content_type", "body"), [
    ("application/vnd.example.unknown+json", {"schemaVersion": 2}),
    (OCI_MANIFEST, {"schemaVersion": 2, "mediaType": "application/vnd.example+json"}),
    (OCI_MANIFEST, {"schemaVersion": 1}),
    (OCI_MANIFEST, {"schemaVersion": 2, "config": {"digest": "sha256:xyz"}, "layers": []}),
    (OCI_MANIFEST, [1, 2]),
])
def test_invalid_manifests(client, content_type, body):
    r = client.request("PUT", "/v2/app/manifests/v1", body=json.dumps(body).encode(),
                       headers={"Content-Type": content_type})
    assert (r.status, r.error_codes) == (400, ["MANIFEST_INVALID"])


def test_manifest_not_json(client):
    r = client.request("PUT", "/v2/app/manifests/v1", body=b"\xff not json",
                       headers={"Content-Type": OCI_MANIFEST})
    assert (r.status, r.error_codes) == (400, ["MANIFEST_INVALID"])


def test_manifest_put_by_wrong_digest(client):
    image = make_image()
    push_image(client, "app", "v1", image)
    r = client.request("PUT", f"/v2/app/manifests/{digest_of(b'x')}", body=image.manifest.data,
                       headers={"Content-Type": OCI_MANIFEST})
    assert (r.status, r.error_codes) == (400, ["DIGEST_INVALID"])


@pytest.mark.parametrize("name", ["UPPER", "a//b", "-lead", "trail-", "a" * 256, "_x",
                                  "a/_manifests"])
def test_bad_names(client, name):
    r = client.get(f"/v2/{name}/tags/list")
    assert (r.status, r.error_codes) == (400, ["NAME_INVALID"])
    r = client.request("POST", f"/v2/{name}/blobs/uploads/")
    assert (r.status, r.error_codes) == (400, ["NAME_INVALID"])


def test_bad_tag(client):
    r = client.get("/v2/app/manifests/-bad")
    assert (r.status, r.error_codes) == (400, ["MANIFEST_INVALID"])


def test_unknown_manifest_and_repository(client):
    assert client.get("/v2/app/manifests/latest").error_codes == ["MANIFEST_UNKNOWN"]
    r = client.head(f"/v2/app/manifests/{digest_of(b'x')}")
    assert (r.status, r.body) == (404, b"")
    r = client.get("/v2/nothing/tags/list")
    assert (r.status, r.error_codes) == (404, ["NAME_UNKNOWN"])


def test_delete_by_tag_is_unsupported_unless_enabled(serve):
    image = make_image()
    client = serve()
    push_image(client, "app", "v1", image)
    r = client.request("DELETE", "/v2/app/manifests/v1")
    assert (r.status, r.error_codes) == (405, ["UNSUPPORTED"])
    assert client.get("/v2/app/manifests/v1").status == 200

    enabled = serve(RegistryOptions(tag_delete_enabled=True))
    assert enabled.request("DELETE", "/v2/app/manifests/v1").status == 202
    assert enabled.get("/v2/app/manifests/v1").status == 404
    assert enabled.get(f"/v2/app/manifests/{image.manifest.digest}").status == 200


def test_delete_disabled(serve):
    client = serve(RegistryOptions(delete_enabled=False))
    image = make_image()
    push_image(client, "app", "v1", image)
    for path in (f"/v2/app/manifests/{image.manifest.digest}",
                 f"/v2/app/blobs/{image.layers[0].digest}"):
        r = client.request("DELETE", path)
        assert (r.status, r.error_codes) == (405, ["UNSUPPORTED"])


def test_delete_of_unknown_things(client):
    assert client.request("DELETE", f"/v2/app/manifests/{digest_of(b'x')}").error_codes == [
        "MANIFEST_UNKNOWN"]
    assert client.request("DELETE", f"/v2/app/blobs/{digest_of(b'x')}").error_codes == [
        "BLOB_UNKNOWN"]
