"""Stage splitting, global args, --target and the stage dependency graph."""

import platform

import pytest

from berth.engine.builder.dockerfile import parse
from berth.engine.builder.errors import DockerfileError
from berth.engine.builder.instructions import ArgDecl
from berth.engine.builder.stages import arg_value, global_args, mount_from, plan, platform_args

MULTI = """\
ARG GO=1.22
ARG BASE=alpine:${GO}
FROM golang:${GO} AS deps
RUN go mod download
FROM deps AS build
COPY --from=assets /out /static
RUN --mount=type=cache,target=/root/.cache --mount=type=bind,from=tools,target=/t make
FROM node AS assets
RUN npm run build
FROM busybox AS tools
FROM ${BASE} AS release
COPY --from=build /app /app
COPY --from=nginx:latest /etc/nginx /etc/nginx
FROM scratch AS unrelated
COPY --from=0 /x /x
"""


def test_stages_and_dependencies():
    p = plan(parse(MULTI))
    assert [(s.index, s.name, s.base) for s in p.stages] == [
        (0, "deps", "golang:1.22"), (1, "build", "deps"), (2, "assets", "node"),
        (3, "tools", "busybox"), (4, "release", "alpine:1.22"), (5, "unrelated", "scratch")]
    assert p.stages[1].base_stage == 0
    assert p.stages[1].deps == {0, 2, 3}
    assert p.stages[4].deps == {1} and p.stages[4].images == ("nginx:latest",)
    assert p.stages[5].deps == {0}
    assert p.target == 5
    assert p.global_args == {**platform_args(), "GO": "1.22", "BASE": "alpine:1.22"}


def test_target_needs_only_its_dependencies():
    p = plan(parse(MULTI), target="release")
    assert p.target == 4
    assert p.levels == ((0, 2, 3), (1,), (4,))
    assert p.order == (0, 2, 3, 1, 4)
    assert 5 not in p.order


def test_target_is_case_insensitive_and_build_args_apply():
    p = plan(parse(MULTI), target="BUILD", build_args={"GO": "1.21"})
    assert p.target == 1 and p.stages[0].base == "golang:1.21"
    assert p.stages[4].base == "alpine:1.21"  # default re-expanded with the build arg


def test_from_refers_only_to_earlier_stages():
    p = plan(parse("FROM later AS first\nFROM alpine AS later\n"))
    assert p.stages[0].base_stage is None and p.stages[0].deps == frozenset()


def test_copy_from_later_stage_is_a_dependency():
    p = plan(parse("FROM a AS one\nCOPY --from=two / /\nFROM b AS two\n"), target="one")
    assert p.order == (1, 0)


@pytest.mark.parametrize(("source", "target", "message", "line"), [
    ("RUN x\nFROM a", None, "no build stage in current context", 1),
    ("ARG A\n", None, "dockerfile contains no stages to build", None),
    ("FROM a\n", "nope", 'target stage "nope" could not be found', None),
    ("FROM a AS x\nFROM b AS X\n", None, 'duplicate stage name "x"', 2),
    ("FROM a AS x\nCOPY --from=x / /\n", None, "circular dependency detected on stage: x", 1),
    ("FROM a AS x\nCOPY --from=y / /\nFROM b AS y\nCOPY --from=x / /\n", None,
     "circular dependency detected on stage: y", 3),
    ("FROM a\nCOPY --from=3 / /\n", None, "invalid from flag value 3: index out of bounds",
     2),
    ("FROM ${NOPE}\n", None, "base name (${NOPE}) should not be blank", 1),
])
def test_errors(source, target, message, line):
    with pytest.raises(DockerfileError) as caught:
        plan(parse(source), target=target)
    assert caught.value.message == message
    assert caught.value.line == line


def test_global_args_only_in_from_unless_redeclared():
    meta = [ArgDecl(name="V", default="1"), ArgDecl(name="W", default="${V}.0"),
            ArgDecl(name="X", default=None)]
    env = global_args(meta, {})
    assert env == {**platform_args(), "V": "1", "W": "1.0"}
    assert arg_value(ArgDecl(name="V", default=None), {}, env) == "1"
    assert arg_value(ArgDecl(name="V", default="2"), {}, env) == "2"
    assert arg_value(ArgDecl(name="V", default="2"), {"V": "3"}, env) == "3"
    assert arg_value(ArgDecl(name="X", default=None), {}, env) is None


def test_global_arg_error_propagates():
    with pytest.raises(DockerfileError, match="NEED: required"):
        plan(parse("ARG NEED\nFROM ${NEED:?required}\n"))


@pytest.mark.parametrize(("mount", "source"), [
    ("type=bind,from=build,target=/x", "build"),
    ("FROM=x", "x"),
    ("type=cache,target=/x", None),
    ('type=bind,"from=a,b",target=/x', "a,b"),
])
def test_mount_from(mount, source):
    assert mount_from(mount) == source


def test_stage_lookup():
    p = plan(parse(MULTI))
    assert p.stage("assets").index == 2
    assert p.stage("1").name == "build"
    with pytest.raises(DockerfileError):
        p.stage("nginx")


def test_buildkits_platform_args_are_global_and_name_this_host():
    args = platform_args()
    host = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    assert args["BUILDPLATFORM"] == args["TARGETPLATFORM"] == f"linux/{host}"
    assert args["TARGETOS"] == "linux" and args["TARGETARCH"] == host
    p = plan(parse("FROM --platform=$BUILDPLATFORM busybox AS b\nARG TARGETARCH\n"))
    assert p.stages[0].base == "busybox"
