"""Each instruction's arguments, flags and docker's error wording."""

import pytest

from berth.engine.builder import instructions as ins
from berth.engine.builder.dockerfile import parse
from berth.engine.builder.errors import DockerfileError


def node(line: str) -> ins.Instruction:
    return parse(line).instructions[-1]


def cmdline(c: ins.Instruction) -> ins.CommandLine:
    assert isinstance(c, ins.Run | ins.Cmd | ins.Entrypoint)
    return c.command


@pytest.mark.parametrize(("line", "args", "prepend_shell"), [
    ('CMD ["echo", "hi"]', ("echo", "hi"), False),
    ('CMD   [ "echo" , "hi" ]  ', ("echo", "hi"), False),
    ("CMD []", (), False),
    ('CMD ["a\\\\b", "\\u00e9"]', ("a\\b", "é"), False),
    ("CMD echo hi", ("echo hi",), True),
    ('CMD ["echo", "hi"', ('["echo", "hi"',), True),  # invalid JSON: shell form
    ('CMD ["echo" "hi"]', ('["echo" "hi"]',), True),
    ("CMD ['echo', 'hi']", ("['echo', 'hi']",), True),
    ('CMD ["a"] extra', ('["a"] extra',), True),
    ('CMD [NaN]', ("[NaN]",), True),  # Go's JSON has no NaN
    ('ENTRYPOINT ["/bin/sh", "-c"]', ("/bin/sh", "-c"), False),
    ("ENTRYPOINT", (), True),  # no JSON attribute, as buildkit
    ('RUN ["ls", "-l"]', ("ls", "-l"), False),
    ("RUN echo [1, 2]", ("echo [1, 2]",), True),
])
def test_exec_vs_shell_form(line, args, prepend_shell):
    command = cmdline(node(line))
    assert (command.args, command.prepend_shell) == (args, prepend_shell)


def test_json_with_non_strings_is_an_error():
    with pytest.raises(DockerfileError, match="arrays must be comprised of strings only"):
        parse('CMD ["a", 1]')


@pytest.mark.parametrize(("line", "pairs"), [
    ("ENV A B", [("A", "B")]),
    ("ENV A  b c  d", [("A", "b c  d")]),
    ("ENV A=1", [("A", "1")]),
    ('ENV A=1 B="x y" C=\'z\'', [("A", "1"), ("B", '"x y"'), ("C", "'z'")]),
    ("ENV A=a\\ b", [("A", "a\\ b")]),
    ("ENV A=", [("A", "")]),
    ('ENV A=""', [("A", '""')]),
    ("env a=$B", [("a", "$B")]),
    ('LABEL "com.example.vendor"="ACME" version=1.0', [('"com.example.vendor"', '"ACME"'),
                                                        ("version", "1.0")]),
    ("LABEL description This text", [("description", "This text")]),
])
def test_env_and_label(line, pairs):
    n = node(line)
    assert isinstance(n, ins.Env | ins.Label)
    assert [(p.key, p.value) for p in n.pairs] == pairs


@pytest.mark.parametrize(("line", "decls"), [
    ("ARG A", [("A", None)]),
    ("ARG A=1 B C=", [("A", "1"), ("B", None), ("C", "")]),
    ('ARG A="x y"', [("A", '"x y"')]),
])
def test_arg(line, decls):
    n = node(line)
    assert isinstance(n, ins.Arg)
    assert [(a.name, a.default) for a in n.args] == decls


@pytest.mark.parametrize(("line", "base", "name", "platform"), [
    ("FROM alpine", "alpine", None, None),
    ("FROM alpine AS Build", "alpine", "build", None),
    ("from alpine as b-1.x_y", "alpine", "b-1.x_y", None),
    ("FROM --platform=$BUILDPLATFORM golang:1 AS b", "golang:1", "b", "$BUILDPLATFORM"),
    ("FROM ${IMG:-x}", "${IMG:-x}", None, None),
])
def test_from(line, base, name, platform):
    n = node(line)
    assert isinstance(n, ins.From)
    assert (n.base, n.stage_name, n.platform) == (base, name, platform)


def test_copy_and_add_flags():
    c = node("COPY --from=build --chown=1:2 --chmod=755 --link --parents --exclude=*.md"
             " --exclude=x a b /dst/")
    assert isinstance(c, ins.Copy)
    assert (c.sources, c.dest, c.from_, c.chown, c.chmod) == (("a", "b"), "/dst/", "build",
                                                              "1:2", "755")
    assert c.link and c.parents and c.excludes == ("*.md", "x")
    a = node("ADD --checksum=sha256:abc --keep-git-dir=true --link=false https://x/y.tgz /")
    assert isinstance(a, ins.Add)
    assert (a.checksum, a.keep_git_dir, a.link, a.sources) == ("sha256:abc", True, False,
                                                               ("https://x/y.tgz",))
    j = node('COPY ["a b", "/d e/"]')
    assert isinstance(j, ins.Copy) and (j.sources, j.dest) == (("a b",), "/d e/")
    q = node('COPY --chown="a b" x y')
    assert isinstance(q, ins.Copy) and q.chown == "a b"


def test_run_flags():
    r = node("RUN --mount=type=cache,target=/root/.cache --mount=type=bind,from=b,source=/x"
             " --network=none --security=insecure make")
    assert isinstance(r, ins.Run)
    assert r.mounts == ("type=cache,target=/root/.cache", "type=bind,from=b,source=/x")
    assert (r.network, r.security, r.command.args) == ("none", "insecure", ("make",))
    assert node("RUN -- --not-a-flag").command.args == ("--not-a-flag",)  # type: ignore[attr-defined]


def test_simple_instructions():
    assert node("WORKDIR /a b").path == "/a b"  # type: ignore[attr-defined]
    assert node("USER app:app").user == "app:app"  # type: ignore[attr-defined]
    assert node("MAINTAINER Jo <jo@x>").name == "Jo <jo@x>"  # type: ignore[attr-defined]
    assert node("STOPSIGNAL SIGKILL").signal == "SIGKILL"  # type: ignore[attr-defined]
    assert node("EXPOSE 8080/udp 80 443").ports == ("443", "80", "8080/udp")  # type: ignore[attr-defined]
    assert node("VOLUME /a /b").paths == ("/a", "/b")  # type: ignore[attr-defined]
    assert node('VOLUME ["/a", " /b "]').paths == ("/a", "/b")  # type: ignore[attr-defined]
    assert node('SHELL ["pwsh", "-c"]').shell == ("pwsh", "-c")  # type: ignore[attr-defined]


@pytest.mark.parametrize(("line", "test", "interval", "retries"), [
    ("HEALTHCHECK NONE", ("NONE",), 0, 0),
    ("HEALTHCHECK CMD curl -f http://x", ("CMD-SHELL", "curl -f http://x"), 0, 0),
    ('HEALTHCHECK CMD ["curl", "-f"]', ("CMD", "curl", "-f"), 0, 0),
    ("HEALTHCHECK --interval=1m30s --timeout=3s --start-period=0s --start-interval=500ms"
     " --retries=5 cmd true", ("CMD-SHELL", "true"), 90_000_000_000, 5),
    ("HEALTHCHECK --interval=1.5h CMD x", ("CMD-SHELL", "x"), 5_400_000_000_000, 0),
])
def test_healthcheck(line, test, interval, retries):
    n = node(line)
    assert isinstance(n, ins.Healthcheck)
    assert (n.test, n.interval, n.retries) == (test, interval, retries)


def test_healthcheck_durations():
    n = node("HEALTHCHECK --timeout=3s --start-period=2m --start-interval=500ms CMD x")
    assert isinstance(n, ins.Healthcheck)
    assert (n.timeout, n.start_period, n.start_interval) == (3 * 10**9, 120 * 10**9, 5 * 10**8)


def test_onbuild():
    n = node("ONBUILD ADD . /app/src")
    assert isinstance(n, ins.Onbuild)
    assert n.expression == "ADD . /app/src"
    assert isinstance(n.trigger, ins.Add) and n.trigger.sources == (".",)
    broken = node("onbuild RUNN x")  # docker only complains when a child build fires it
    assert isinstance(broken, ins.Onbuild) and broken.trigger is None


@pytest.mark.parametrize(("line", "reason"), [
    ("ENV", "ENV requires at least one argument"),
    ("ENV A", "ENV must have two arguments"),
    ("ENV =x", "ENV names can not be blank"),
    ("ENV A=1 B", 'Syntax error - can\'t find = in "B". Must be of the form: name=value'),
    ("LABEL x", "LABEL must have two arguments"),
    ("ARG", "ARG requires at least one argument"),
    ("ARG =x", "ARG names can not be blank"),
    ("FROM", "FROM requires either one or three arguments"),
    ("FROM a b", "FROM requires either one or three arguments"),
    ("FROM a AS b c", "FROM requires either one or three arguments"),
    ("FROM a AS 1x", 'invalid name for build stage: "1x", name can\'t start with a number or'
     " contain symbols"),
    ("FROM --platfrom=x a", "unknown flag: platfrom (did you mean platform?)"),
    ("COPY a", "COPY requires at least two arguments, but only one was provided."
     " Destination could not be determined"),
    ("ADD", "ADD requires at least two arguments, but only one was provided."
     " Destination could not be determined"),
    ("COPY --link=maybe a b", "expecting boolean value for flag link, not: maybe"),
    ("COPY --link= a b", "missing a value on flag: link"),
    ("COPY --from a b", "missing a value on flag: from"),
    ("COPY --from=a --from=b a b", "duplicate flag specified: from"),
    ("COPY --checksum=x a b", "unknown flag: checksum"),
    ("RUN --mont=type=cache x", "unknown flag: mont (did you mean mount?)"),
    ("WORKDIR", "WORKDIR requires exactly one argument"),
    ("USER", "USER requires exactly one argument"),
    ("MAINTAINER", "MAINTAINER requires exactly one argument"),
    ("STOPSIGNAL", "STOPSIGNAL requires exactly one argument"),
    ("EXPOSE", "EXPOSE requires at least one argument"),
    ("VOLUME []", "VOLUME requires at least one argument"),
    ('VOLUME ["/a", " "]', "VOLUME specified can not be an empty string"),
    ("SHELL /bin/sh -c", "SHELL requires the arguments to be in JSON form"),
    ("SHELL []", "SHELL requires at least one argument"),
    ("HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
    ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
    ("HEALTHCHECK FOO x", 'Unknown type "FOO" in HEALTHCHECK (try CMD)'),
    ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
    ("HEALTHCHECK --interval=1ns CMD x", 'Interval "interval" cannot be less than 1ms'),
    ("HEALTHCHECK --interval=5 CMD x", 'time: missing unit in duration "5"'),
    ("HEALTHCHECK --interval=5d CMD x", 'time: unknown unit "d" in duration "5d"'),
    ("HEALTHCHECK --timeout=abc CMD x", 'time: invalid duration "abc"'),
    ("HEALTHCHECK --retries=0 CMD x", "--retries must be at least 1 (not 0)"),
    ("HEALTHCHECK --retries=x CMD x", 'strconv.ParseInt: parsing "x": invalid syntax'),
    ("ONBUILD", "ONBUILD requires at least one argument"),
    ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
    ("ONBUILD maintainer x", "MAINTAINER isn't allowed as an ONBUILD trigger"),
    ("CMD --foo x", "unknown flag: foo"),
])
def test_errors(line, reason):
    with pytest.raises(DockerfileError) as caught:
        parse("FROM scratch\n" + line)
    assert caught.value.message == f"dockerfile parse error on line 2: {reason}"
    assert caught.value.line == 2


def test_shell_hint_for_windows_paths():
    with pytest.raises(DockerfileError, match="includes a file path without an escaped"):
        parse('SHELL ["c:\\windows\\cmd.exe", "/S"]')
