"""Where everything lives in a registry's storage: distribution's layout (``paths.go``).

Blob bytes are stored once, globally, by digest; a repository only holds *links* (files
whose content is a digest) that make a blob or manifest visible under its name::

    <root>/docker/registry/v2/
    ├── blobs/sha256/<hex[:2]>/<hex>/data            the bytes (layers, configs, manifests)
    └── repositories/<name>/                         <name> may have several components
        ├── _layers/sha256/<hex>/link                blob <hex> is in this repository
        ├── _manifests/
        │   ├── revisions/sha256/<hex>/link          manifest <hex> is in this repository
        │   └── tags/<tag>/
        │       ├── current/link                     the digest <tag> points to now
        │       └── index/sha256/<hex>/link          every digest <tag> has pointed to
        ├── _referrers/sha256/<subject>/sha256/<hex>/link
        │                                            manifest <hex> has subject <subject>
        └── _uploads/<uuid>/
            ├── data                                 the bytes received so far
            └── startedat                            RFC 3339 time of the POST

A ``<root>`` is a ``StorageDriver`` path, so the same tree exists in every driver; for the
filesystem driver it is literally the directory tree, readable by distribution itself
(``_referrers`` is Berth's index for the referrers API; distribution ignores it).
"""

from __future__ import annotations

from berth.oci import digest as digests

ROOT = "/docker/registry/v2"
BLOBS = f"{ROOT}/blobs"
REPOSITORIES = f"{ROOT}/repositories"

# The directory names that mark a repository, and may never be name components.
MANIFESTS_DIR = "_manifests"
LAYERS_DIR = "_layers"
UPLOADS_DIR = "_uploads"
REFERRERS_DIR = "_referrers"


def _split(digest: str) -> tuple[str, str]:
    hex_ = digests.hex_part(digest)
    return "sha256", hex_


def blob_dir(digest: str) -> str:
    algo, hex_ = _split(digest)
    return f"{BLOBS}/{algo}/{hex_[:2]}/{hex_}"


def blob_data(digest: str) -> str:
    return f"{blob_dir(digest)}/data"


def repository(name: str) -> str:
    return f"{REPOSITORIES}/{name}"


def layer_link(name: str, digest: str) -> str:
    algo, hex_ = _split(digest)
    return f"{repository(name)}/{LAYERS_DIR}/{algo}/{hex_}/link"


def layers_root(name: str) -> str:
    return f"{repository(name)}/{LAYERS_DIR}/sha256"


def revisions_root(name: str) -> str:
    return f"{repository(name)}/{MANIFESTS_DIR}/revisions/sha256"


def revision_link(name: str, digest: str) -> str:
    algo, hex_ = _split(digest)
    return f"{repository(name)}/{MANIFESTS_DIR}/revisions/{algo}/{hex_}/link"


def tags_root(name: str) -> str:
    return f"{repository(name)}/{MANIFESTS_DIR}/tags"


def tag_dir(name: str, tag: str) -> str:
    return f"{tags_root(name)}/{tag}"


def tag_current_link(name: str, tag: str) -> str:
    return f"{tag_dir(name, tag)}/current/link"


def tag_index_link(name: str, tag: str, digest: str) -> str:
    algo, hex_ = _split(digest)
    return f"{tag_dir(name, tag)}/index/{algo}/{hex_}/link"


def referrers_dir(name: str, subject: str) -> str:
    algo, hex_ = _split(subject)
    return f"{repository(name)}/{REFERRERS_DIR}/{algo}/{hex_}/sha256"


def referrer_link(name: str, subject: str, digest: str) -> str:
    return f"{referrers_dir(name, subject)}/{digests.hex_part(digest)}/link"


def upload_dir(name: str, uuid: str) -> str:
    return f"{repository(name)}/{UPLOADS_DIR}/{uuid}"


def upload_data(name: str, uuid: str) -> str:
    return f"{upload_dir(name, uuid)}/data"


def upload_started_at(name: str, uuid: str) -> str:
    return f"{upload_dir(name, uuid)}/startedat"
