import pytest

from berth.errors import InvalidArgument
from berth.oci.reference import Reference, parse, parse_named, parse_repository


@pytest.mark.parametrize(
    ("text", "domain", "path", "tag", "digest", "familiar"),
    [
        ("busybox", "docker.io", "library/busybox", None, None, "busybox"),
        ("busybox:1.36", "docker.io", "library/busybox", "1.36", None, "busybox:1.36"),
        ("library/busybox", "docker.io", "library/busybox", None, None, "busybox"),
        ("docker.io/library/busybox:latest", "docker.io", "library/busybox", "latest", None,
         "busybox:latest"),
        ("index.docker.io/foo/bar", "docker.io", "foo/bar", None, None, "foo/bar"),
        ("foo/bar", "docker.io", "foo/bar", None, None, "foo/bar"),
        ("localhost:5000/a/b:tag", "localhost:5000", "a/b", "tag", None,
         "localhost:5000/a/b:tag"),
        ("localhost/a", "localhost", "a", None, None, "localhost/a"),
        ("ghcr.io/org/img.x_y-z:v1", "ghcr.io", "org/img.x_y-z", "v1", None,
         "ghcr.io/org/img.x_y-z:v1"),
        ("busybox@sha256:" + "a" * 64, "docker.io", "library/busybox", None,
         "sha256:" + "a" * 64, "busybox@sha256:" + "a" * 64),
    ],
)
def test_parse_and_familiar(text, domain, path, tag, digest, familiar):
    ref = parse(text)
    assert ref == Reference(domain, path, tag, digest)
    assert ref.familiar() == familiar
    assert parse(ref.string()) == ref


def test_default_tag_and_string():
    ref = parse_named("busybox")
    assert ref.string() == "docker.io/library/busybox:latest"
    assert ref.familiar() == "busybox:latest"
    assert parse_named("busybox@sha256:" + "b" * 64).tag is None


def test_upper_case_repository_is_refused_with_dockers_words():
    with pytest.raises(InvalidArgument,
                       match=r"^invalid reference format: repository name must be lowercase$"):
        parse("BusyBox")
    with pytest.raises(InvalidArgument, match="must be lowercase"):
        parse("localhost:5000/Foo:tag")
    assert parse("LOCALHOST.example:5000/foo").domain == "LOCALHOST.example:5000"


@pytest.mark.parametrize("text", ["", "busybox:", ":tag", "a//b", "-a", "a:b:c", "a@sha256:1",
                                  "busybox:" + "x" * 129, "a b"])
def test_invalid_references(text):
    with pytest.raises(InvalidArgument, match=r"^invalid reference format"):
        parse(text)


def test_sixty_four_hex_is_not_a_name():
    with pytest.raises(InvalidArgument, match="64-byte hexadecimal"):
        parse("a" * 64)


def test_repository_without_tag():
    assert parse_repository("myrepo").name == "docker.io/library/myrepo"
    with pytest.raises(InvalidArgument):
        parse_repository("myrepo:tag")
    assert parse("myrepo").with_tag("v2").familiar() == "myrepo:v2"
