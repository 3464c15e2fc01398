"""A small multi-layer OCI image pushed and pulled through the HTTP API, every push flow."""

from __future__ import annotations

import json

import pytest
from tests.unit.registry.server.images import (
    OCI_INDEX,
    Blob,
    make_image,
    manifest_blob,
    pull_image,
    push_image,
    push_monolithic,
    put_manifest,
)


def test_base_endpoint_announces_api_version(client):
    r = client.get("/v2/")
    assert (r.status, r.json()) == (200, {})
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"


@pytest.mark.parametrize("how", ["monolithic", "chunked", "single-post"])
def test_push_then_pull_by_tag_and_digest(client, how):
    image = make_image(layer_count=3)
    push_image(client, "library/app", "v1", image, how=how)

    pulled = pull_image(client, "library/app", "v1")
    assert pulled == image
    assert pull_image(client, "library/app", image.manifest.digest) == image


def test_manifest_head_and_get_headers(client):
    image = make_image()
    push_image(client, "app", "latest", image)
    for method in ("HEAD", "GET"):
        r = client.request(method, "/v2/app/manifests/latest")
        assert r.status == 200
        assert r.headers["Content-Type"] == image.manifest.media_type
        assert r.headers["Docker-Content-Digest"] == image.manifest.digest
        assert r.headers["ETag"] == f'"{image.manifest.digest}"'
        assert int(r.headers["Content-Length"]) == len(image.manifest.data)
        assert r.body == (image.manifest.data if method == "GET" else b"")
    r = client.get("/v2/app/manifests/latest",
                   headers={"If-None-Match": f'"{image.manifest.digest}"'})
    assert r.status == 304


def test_blob_head_reports_size_and_digest(client):
    image = make_image()
    push_image(client, "app", "latest", image)
    blob = image.layers[0]
    r = client.head(f"/v2/app/blobs/{blob.digest}")
    assert r.status == 200 and r.body == b""
    assert int(r.headers["Content-Length"]) == len(blob.data)
    assert r.headers["Docker-Content-Digest"] == blob.digest


def test_cross_repository_mount(client):
    image = make_image()
    push_image(client, "source/app", "v1", image)
    for blob in image.blobs:
        r = client.request("POST", f"/v2/dest/app/blobs/uploads/?mount={blob.digest}"
                                   "&from=source/app")
        assert r.status == 201, r.body
        assert r.headers["Location"] == f"/v2/dest/app/blobs/{blob.digest}"
        assert r.headers["Docker-Content-Digest"] == blob.digest
    put_manifest(client, "dest/app", "v1", image.manifest)
    assert pull_image(client, "dest/app", "v1") == image


def test_mount_of_a_blob_the_source_lacks_starts_an_upload(client):
    image = make_image()
    push_image(client, "source", "v1", image)
    other = make_image("b").layers[0]
    r = client.request("POST", f"/v2/dest/blobs/uploads/?mount={other.digest}&from=source")
    assert r.status == 202 and r.headers["Docker-Upload-UUID"]
    assert r.headers["Location"].startswith("/v2/dest/blobs/uploads/")


def test_blob_is_visible_only_in_repositories_it_was_pushed_to(client):
    blob = make_image().layers[0]
    push_monolithic(client, "one", blob)
    assert client.head(f"/v2/one/blobs/{blob.digest}").status == 200
    assert client.head(f"/v2/two/blobs/{blob.digest}").status == 404


def test_upload_status_and_cancel(client):
    r = client.request("POST", "/v2/app/blobs/uploads/")
    location, uuid = r.headers["Location"], r.headers["Docker-Upload-UUID"]
    assert location.endswith(uuid)
    client.request("PATCH", location, body=b"12345", headers={"Content-Range": "0-4"})
    r = client.get(location)
    assert (r.status, r.headers["Range"], r.headers["Docker-Upload-UUID"]) == (204, "0-4", uuid)
    assert client.request("DELETE", location).status == 204
    r = client.get(location)
    assert (r.status, r.error_codes) == (404, ["BLOB_UPLOAD_UNKNOWN"])


def test_patch_without_content_range_streams_a_chunked_body(client):
    """containers/image PATCHes the whole blob with chunked transfer and no Content-Range."""
    blob = make_image().layers[1]
    location = client.request("POST", "/v2/app/blobs/uploads/").headers["Location"]
    r = client.request("PATCH", location, body=blob.data, chunked=True)
    assert (r.status, r.headers["Range"]) == (202, f"0-{len(blob.data) - 1}")
    assert client.request("PUT", f"{location}?digest={blob.digest}").status == 201
    assert client.get(f"/v2/app/blobs/{blob.digest}").body == blob.data


def test_put_with_final_chunk_commits(client):
    blob = make_image().layers[0]
    location = client.request("POST", "/v2/app/blobs/uploads/").headers["Location"]
    half = len(blob.data) // 2
    client.request("PATCH", location, body=blob.data[:half], headers={
        "Content-Range": f"0-{half - 1}"})
    r = client.request("PUT", f"{location}?digest={blob.digest}", body=blob.data[half:],
                       headers={"Content-Range": f"{half}-{len(blob.data) - 1}"})
    assert r.status == 201, r.body


def test_index_push_and_pull(client):
    amd, arm = make_image("amd"), make_image("arm")
    push_image(client, "multi", "amd", amd)
    push_image(client, "multi", "arm", arm)
    index = manifest_blob({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        amd.manifest.descriptor(platform={"os": "linux", "architecture": "amd64"}),
        arm.manifest.descriptor(platform={"os": "linux", "architecture": "arm64"})]}, OCI_INDEX)
    put_manifest(client, "multi", "latest", index)
    r = client.get("/v2/multi/manifests/latest")
    assert r.headers["Content-Type"] == OCI_INDEX
    children = [m["digest"] for m in json.loads(r.body)["manifests"]]
    assert [pull_image(client, "multi", d) for d in children] == [amd, arm]


def test_delete_manifest_by_digest_removes_its_tags(client):
    image = make_image()
    push_image(client, "app", "v1", image)
    put_manifest(client, "app", "v2", image.manifest)
    r = client.request("DELETE", f"/v2/app/manifests/{image.manifest.digest}")
    assert r.status == 202
    assert client.get("/v2/app/manifests/v1").error_codes == ["MANIFEST_UNKNOWN"]
    assert client.get(f"/v2/app/manifests/{image.manifest.digest}").status == 404
    assert client.get("/v2/app/tags/list").json() == {"name": "app", "tags": []}


def test_delete_blob_unlinks_it(client):
    blob = make_image().layers[0]
    push_monolithic(client, "app", blob)
    assert client.request("DELETE", f"/v2/app/blobs/{blob.digest}").status == 202
    r = client.get(f"/v2/app/blobs/{blob.digest}")
    assert (r.status, r.error_codes) == (404, ["BLOB_UNKNOWN"])


def test_empty_blob_round_trips(client):
    empty = Blob("application/octet-stream", b"")
    r = client.request("POST", f"/v2/app/blobs/uploads/?digest={empty.digest}", body=b"")
    assert r.status == 201, r.body
    r = client.get(f"/v2/app/blobs/{empty.digest}")
    assert (r.status, r.body) == (200, b"")


@pytest.mark.parametrize("content_type", [None, "application/json"])
def test_manifest_media_type_comes_from_the_body_without_a_specific_content_type(
        client, content_type):
    image = make_image()
    for blob in image.blobs:
        push_monolithic(client, "app", blob)
    headers = {} if content_type is None else {"Content-Type": content_type}
    r = client.request("PUT", "/v2/app/manifests/v1", body=image.manifest.data, headers=headers)
    assert r.status == 201, r.body
    assert client.head("/v2/app/manifests/v1").headers["Content-Type"] == image.manifest.media_type
