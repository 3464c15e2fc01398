"""Platform strings as docker's ``--platform`` takes them and its messages show them, and
the manifests a pull refuses before fetching anything."""

from __future__ import annotations

import json
import re

import pytest

from berth.errors import InvalidArgument, NotFound
from berth.oci import image
from berth.registry.client import Descriptor, Platform, platforms
from berth.registry.client.descriptor import parse_manifest, require_image

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(("text", "parsed", "shown"), [
    ("linux/amd64", Platform("linux", "amd64", "v1"), "linux/amd64"),
    ("linux/x86_64", Platform("linux", "amd64", "v1"), "linux/amd64"),
    ("linux/arm64/v8", Platform("linux", "arm64", "v8"), "linux/arm64"),
    ("arm64", Platform("linux", "arm64", "v8"), "linux/arm64"),
    ("linux/arm", Platform("linux", "arm", "v7"), "linux/arm/v7"),
    ("linux/arm/v6", Platform("linux", "arm", "v6"), "linux/arm/v6"),
])
def test_parse_and_display(text, parsed, shown):
    assert platforms.parse(text) == parsed
    assert platforms.display(parsed) == shown


@pytest.mark.parametrize("text", ["", "linux/", "a/b/c/d", "linux/amd64;rm"])
def test_a_bad_platform_is_invalid(text):
    with pytest.raises(InvalidArgument, match="invalid platform"):
        platforms.parse(text)


def test_no_match_is_dockers_message():
    entries = [Descriptor(image.MEDIA_TYPE_OCI_MANIFEST, DIGEST, 1, Platform("linux", "arm64"))]
    with pytest.raises(NotFound) as err:
        platforms.select(entries, platforms.parse("linux/amd64"))
    assert str(err.value.message) == \
        "no matching manifest for linux/amd64 in the manifest list entries"


def _manifest(config_type: str, layer_type: str) -> bytes:
    return json.dumps({
        "schemaVersion": 2, "mediaType": image.MEDIA_TYPE_OCI_MANIFEST,
        "config": {"mediaType": config_type, "digest": DIGEST, "size": 2},
        "layers": [{"mediaType": layer_type, "digest": DIGEST, "size": 2}]}).encode()


@pytest.mark.parametrize("layer_type", [
    image.MEDIA_TYPE_OCI_LAYER, image.MEDIA_TYPE_OCI_LAYER_GZIP, image.MEDIA_TYPE_OCI_LAYER_ZSTD,
    image.MEDIA_TYPE_DOCKER_LAYER, image.MEDIA_TYPE_DOCKER_LAYER_GZIP])
def test_image_layers_are_accepted(layer_type):
    require_image(parse_manifest(_manifest(image.MEDIA_TYPE_DOCKER_CONFIG, layer_type)))


@pytest.mark.parametrize(("config_type", "layer_type", "named"), [
    (image.MEDIA_TYPE_OCI_CONFIG, "application/vnd.example.layer.v1.tar+lz4",
     "application/vnd.example.layer.v1.tar+lz4 for layer"),
    ("application/vnd.cncf.helm.config.v1+json", image.MEDIA_TYPE_OCI_LAYER,
     "application/vnd.cncf.helm.config.v1+json for the image config"),
])
def test_other_media_types_are_refused(config_type, layer_type, named):
    with pytest.raises(InvalidArgument, match=re.escape(f"unsupported media type {named}")):
        require_image(parse_manifest(_manifest(config_type, layer_type)))
