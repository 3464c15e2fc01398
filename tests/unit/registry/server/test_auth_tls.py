"""htpasswd basic authentication and TLS."""

from __future__ import annotations

import shutil
import ssl

import pytest
from tests.unit.registry.server.images import make_image, pull_image, push_image
from tests.unit.registry.server.security import self_signed_cert, write_htpasswd

from berth.registry.server import RegistryOptions
from berth.registry.server.auth import Htpasswd, basic_credentials
from berth.registry.server.main import tls_context


@pytest.fixture
def htpasswd(tmp_path):
    return write_htpasswd(tmp_path / "htpasswd", {"alice": "s3cret", "bob": "hunter2"})


def test_requests_without_credentials_get_a_basic_challenge(serve, htpasswd):
    client = serve(RegistryOptions(htpasswd=htpasswd, realm="test-realm"))
    for path in ("/v2/", "/v2/_catalog", "/v2/app/tags/list"):
        r = client.get(path)
        assert (r.status, r.error_codes) == (401, ["UNAUTHORIZED"])
        assert r.headers["WWW-Authenticate"] == 'Basic realm="test-realm"'
        assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"


@pytest.mark.parametrize("auth", [("alice", "wrong"), ("mallory", "s3cret"), ("alice", "")])
def test_bad_credentials_are_unauthorized(serve, htpasswd, auth):
    client = serve(RegistryOptions(htpasswd=htpasswd), auth=auth)
    r = client.get("/v2/")
    assert (r.status, r.error_codes) == (401, ["UNAUTHORIZED"])
    assert r.headers["WWW-Authenticate"].startswith("Basic realm=")


def test_malformed_authorization_is_unauthorized(serve, htpasswd):
    client = serve(RegistryOptions(htpasswd=htpasswd))
    for header in ("Bearer abc", "Basic !!!", "Basic " + "YWxpY2U="):  # no colon
        assert client.get("/v2/", headers={"Authorization": header}).status == 401


def test_valid_credentials_push_and_pull(serve, htpasswd):
    client = serve(RegistryOptions(htpasswd=htpasswd), auth=("bob", "hunter2"))
    assert client.get("/v2/").status == 200
    image = make_image()
    push_image(client, "app", "v1", image, how="chunked")
    assert pull_image(client, "app", "v1") == image


def test_upload_with_bad_credentials_stores_nothing(serve, htpasswd):
    blob = make_image().layers[0]
    client = serve(RegistryOptions(htpasswd=htpasswd), auth=("alice", "nope"))
    r = client.request("POST", f"/v2/app/blobs/uploads/?digest={blob.digest}", body=blob.data)
    assert r.status == 401
    client.auth = ("alice", "s3cret")
    assert client.head(f"/v2/app/blobs/{blob.digest}").status == 404


def test_htpasswd_skips_non_bcrypt_entries(tmp_path):
    path = write_htpasswd(tmp_path / "htpasswd", {"alice": "pw"})
    with path.open("a") as f:
        f.write("# comment\nmd5user:$apr1$abc$def\nplain:password\n\n")
    db = Htpasswd.load(path)
    assert db.verify("alice", "pw")
    assert not db.verify("alice", "PW")
    assert not db.verify("md5user", "anything")
    assert not db.verify("plain", "password")


def test_htpasswd_tool_writes_2y_entries_we_accept(tmp_path):
    if shutil.which("htpasswd") is None:
        pytest.skip("htpasswd (apache2-utils) is not installed")
    path = write_htpasswd(tmp_path / "htpasswd", {"carol": "pa:ss"})
    assert path.read_text().startswith("carol:$2y$")
    assert Htpasswd.load(path).verify("carol", "pa:ss")


def test_basic_credentials_parsing():
    assert basic_credentials("Basic YWxpY2U6czNjcmV0") == ("alice", "s3cret")
    assert basic_credentials("basic YTpiOmM=") == ("a", "b:c")
    assert basic_credentials(None) is None
    assert basic_credentials("Basic") is None


def test_tls(serve, tmp_path):
    cert, key = self_signed_cert(tmp_path)
    trust = ssl.create_default_context(cafile=str(cert))
    client = serve(ssl_context=tls_context(cert, key))
    client.ssl_context = trust
    r = client.get("/v2/")
    assert (r.status, r.json()) == (200, {})
    image = make_image()
    push_image(client, "app", "v1", image)
    assert pull_image(client, "app", "v1") == image


def test_tls_with_auth(serve, tmp_path, htpasswd):
    cert, key = self_signed_cert(tmp_path)
    client = serve(RegistryOptions(htpasswd=htpasswd), ssl_context=tls_context(cert, key),
                   auth=("alice", "s3cret"))
    client.ssl_context = ssl.create_default_context(cafile=str(cert))
    assert client.get("/v2/").status == 200
    client.auth = None
    assert client.get("/v2/").status == 401
