"""Catalog and tag pagination, and the referrers API."""

from __future__ import annotations

import json

import pytest
from tests.unit.registry.server.images import (
    OCI_EMPTY,
    OCI_INDEX,
    Blob,
    digest_of,
    make_artifact,
    make_image,
    manifest_blob,
    push_image,
    push_monolithic,
    put_manifest,
)


def _follow(client, path):
    """Every page of a paginated listing, following ``Link: <...>; rel="next"``."""
    pages = []
    while path:
        r = client.get(path)
        assert r.status == 200, r.body
        pages.append(r.json())
        link = r.headers.get("Link")
        path = link[link.index("<") + 1:link.index(">")] if link else None
        if link:
            assert link.endswith('; rel="next"')
    return pages


@pytest.fixture
def tagged(client):
    image = make_image()
    push_image(client, "app", "v1", image)
    for tag in ("v3", "latest", "v2", "alpha", "v10"):
        put_manifest(client, "app", tag, image.manifest)
    return client


def test_tags_are_sorted(tagged):
    assert tagged.get("/v2/app/tags/list").json() == {
        "name": "app", "tags": ["alpha", "latest", "v1", "v10", "v2", "v3"]}


def test_tags_pagination(tagged):
    pages = _follow(tagged, "/v2/app/tags/list?n=2")
    assert [p["tags"] for p in pages] == [["alpha", "latest"], ["v1", "v10"], ["v2", "v3"]]
    r = tagged.get("/v2/app/tags/list?n=2")
    assert r.headers["Link"] == '</v2/app/tags/list?n=2&last=latest>; rel="next"'
    assert tagged.get("/v2/app/tags/list?n=10&last=v10").json()["tags"] == ["v2", "v3"]
    assert "Link" not in tagged.get("/v2/app/tags/list?n=6").headers
    assert tagged.get("/v2/app/tags/list?n=0").json()["tags"] == []


def test_bad_page_size(tagged):
    r = tagged.get("/v2/app/tags/list?n=-1")
    assert (r.status, r.error_codes) == (400, ["PAGINATION_NUMBER_INVALID"])


def test_catalog_lists_repositories_with_manifests(client):
    image = make_image()
    for name in ("b/app", "a", "a/nested/deep", "c-d", "a-b"):
        push_image(client, name, "v1", image)
    push_monolithic(client, "blobs-only", image.layers[0])
    assert client.get("/v2/_catalog").json() == {
        "repositories": ["a", "a-b", "a/nested/deep", "b/app", "c-d"]}
    pages = _follow(client, "/v2/_catalog?n=2")
    assert [p["repositories"] for p in pages] == [["a", "a-b"], ["a/nested/deep", "b/app"],
                                                  ["c-d"]]


def test_catalog_of_an_empty_registry(client):
    assert client.get("/v2/_catalog").json() == {"repositories": []}


def _push_artifact(client, name, subject, artifact_type, text):
    payload, manifest = make_artifact(subject, artifact_type, text)
    push_monolithic(client, name, payload)
    push_monolithic(client, name, Blob(OCI_EMPTY, b"{}"))
    return put_manifest(client, name, manifest.digest, manifest), manifest


def test_referrers(client):
    image = make_image()
    push_image(client, "app", "v1", image)
    r1, sig = _push_artifact(client, "app", image.manifest, "application/vnd.example.sig", "s")
    _, sbom = _push_artifact(client, "app", image.manifest, "application/vnd.example.sbom", "b")
    assert r1.headers["OCI-Subject"] == image.manifest.digest

    r = client.get(f"/v2/app/referrers/{image.manifest.digest}")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith(OCI_INDEX)
    index = r.json()
    assert (index["schemaVersion"], index["mediaType"]) == (2, OCI_INDEX)
    by_digest = {d["digest"]: d for d in index["manifests"]}
    assert by_digest == {
        sig.digest: {"mediaType": sig.media_type, "digest": sig.digest, "size": len(sig.data),
                     "artifactType": "application/vnd.example.sig",
                     "annotations": {"note": "s"}},
        sbom.digest: {"mediaType": sbom.media_type, "digest": sbom.digest,
                      "size": len(sbom.data), "artifactType": "application/vnd.example.sbom",
                      "annotations": {"note": "b"}},
    }
    assert "OCI-Filters-Applied" not in r.headers

    r = client.get(f"/v2/app/referrers/{image.manifest.digest}"
                   "?artifactType=application/vnd.example.sbom")
    assert r.headers["OCI-Filters-Applied"] == "artifactType"
    assert [d["digest"] for d in r.json()["manifests"]] == [sbom.digest]


def test_referrers_of_unknown_digest_is_an_empty_index(client):
    r = client.get(f"/v2/app/referrers/{digest_of(b'nothing')}")
    assert r.status == 200
    assert r.json()["manifests"] == []


def test_referrer_may_be_pushed_before_its_subject_and_goes_when_deleted(client):
    image = make_image()
    _, sig = _push_artifact(client, "app", image.manifest, "application/vnd.example.sig", "s")
    path = f"/v2/app/referrers/{image.manifest.digest}"
    assert [d["digest"] for d in client.get(path).json()["manifests"]] == [sig.digest]
    assert client.request("DELETE", f"/v2/app/manifests/{sig.digest}").status == 202
    assert client.get(path).json()["manifests"] == []


def test_image_manifest_referrer_uses_config_media_type(client):
    image, other = make_image(), make_image("b")
    push_image(client, "app", "v1", image)
    doc = json.loads(other.manifest.data)
    doc["subject"] = image.manifest.descriptor()
    referrer = manifest_blob(doc)
    for blob in other.blobs:
        push_monolithic(client, "app", blob)
    put_manifest(client, "app", "ref", referrer)
    (desc,) = client.get(f"/v2/app/referrers/{image.manifest.digest}").json()["manifests"]
    assert desc["artifactType"] == other.config.media_type
