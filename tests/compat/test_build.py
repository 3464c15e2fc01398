"""Dockerfile builds through ``POST /build``, driven by docker-py and the real docker CLI
(classic builder, ``DOCKER_BUILDKIT=0``). Every instruction is checked by running the image
it built."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.compat.daemon import Daemon, inspect
from tests.tarballs import tar_of
from tests.trees import write_tree


def build(api: docker.APIClient, ctx: Path, tag: str | None = None,
          **kw: Any) -> tuple[list[str], str | None, dict[str, Any] | None]:
    """The stream text, the image ID (aux) and the error of one build."""
    text: list[str] = []
    image_id = error = None
    for msg in api.build(path=str(ctx), tag=tag, rm=True, decode=True, **kw):
        if "stream" in msg:
            text.append(msg["stream"])
        if "aux" in msg:
            image_id = msg["aux"]["ID"]
        if "errorDetail" in msg:
            error = msg["errorDetail"]
    return text, image_id, error


def run(d: Daemon, image: str, *argv: str, user: list[str] | None = None) -> str:
    return d.docker("run", "--rm", *(user or []), image, *argv).stdout


def active_snapshots(d: Daemon) -> list[str]:
    db = sqlite3.connect(d.data_root / "snapshots" / "overlay" / "metadata.db")
    try:
        return [r[0] for r in db.execute("SELECT key FROM snapshots WHERE kind != 'committed'")]
    finally:
        db.close()


EVERY_INSTRUCTION = """\
# escape=\\
ARG BASE=busybox
FROM ${BASE} AS base
MAINTAINER someone@example.com
ARG GREETING=hello
ARG FROM_CLI
ENV PLAIN=one QUOTED="two words" \\
    DERIVED=${GREETING:-none}-x
LABEL org.example.name="${GREETING}" other=2
RUN echo "run:$GREETING:$FROM_CLI:$PLAIN" > /run.txt
RUN ["/bin/sh", "-c", "echo exec-form > /exec.txt"]
RUN <<EOF
echo heredoc one > /heredoc.txt
echo heredoc two >> /heredoc.txt
EOF
SHELL ["/bin/sh", "-c", "echo shell-used > /shell.txt; eval \\"$0\\""]
RUN echo via-shell > /via.txt
SHELL ["/bin/sh", "-c"]
RUN echo usr:x:1234:1234::/home/usr:/bin/sh >> /etc/passwd && echo grp:x:1234: >> /etc/group
WORKDIR /srv/app
COPY --chown=usr:grp files/ ./
ADD bundle.tar.gz /unpacked/
COPY <<EOF /inline.txt
inline $GREETING
EOF
USER usr
RUN id -u > /tmp/uid && pwd > /tmp/pwd && echo "$FROM_CLI" > /tmp/cli && cat /tmp/uid
EXPOSE 8080 53/udp
VOLUME /data
STOPSIGNAL SIGUSR1
HEALTHCHECK --interval=5s --retries=2 CMD true
ONBUILD RUN echo triggered > /tmp/onbuild
CMD ["cat", "/run.txt"]
"""


def test_every_instruction_checked_by_running(daemon: Daemon, api: docker.APIClient,
                                              tags: list[str], tmp_path: Path) -> None:
    ctx = write_tree(tmp_path, {"Dockerfile": EVERY_INSTRUCTION, "files/a.txt": "file a\n",
                                "files/sub/b.txt": "file b\n",
                                "bundle.tar.gz": tar_of({"t/inner.txt": b"from tar\n"},
                                                        compression="gz")})
    tags.append("every:1")
    text, image_id, error = build(api, ctx, "every:1", buildargs={"FROM_CLI": "cli-val"})
    assert error is None, "".join(text)
    assert image_id is not None
    out = "".join(text)
    assert "Step 1/" in out and "Successfully tagged every:1" in out
    assert "1234\n" in out  # RUN output is streamed
    img = "every:1"
    assert run(daemon, img) == "run:hello:cli-val:one\n"
    assert run(daemon, img, "cat", "/exec.txt") == "exec-form\n"
    assert run(daemon, img, "cat", "/heredoc.txt") == "heredoc one\nheredoc two\n"
    assert run(daemon, img, "cat", "/shell.txt", "/via.txt") == "shell-used\nvia-shell\n"
    assert run(daemon, img, "cat", "/inline.txt") == "inline hello\n"
    assert run(daemon, img, "cat", "/unpacked/t/inner.txt") == "from tar\n"
    assert run(daemon, img, "cat", "/tmp/uid", "/tmp/pwd", "/tmp/cli") == \
        "1234\n/srv/app\ncli-val\n"
    assert run(daemon, img, "id", "-u") == "1234\n"  # USER
    assert run(daemon, img, "pwd") == "/srv/app\n"  # WORKDIR (created)
    assert run(daemon, img, "stat", "-c", "%u:%g %n", "/srv/app/a.txt", "/srv/app/sub/b.txt") \
        == "1234:1234 /srv/app/a.txt\n1234:1234 /srv/app/sub/b.txt\n"
    env = run(daemon, img, "env")
    assert "PLAIN=one\n" in env and "QUOTED=two words\n" in env and "DERIVED=hello-x\n" in env
    assert "FROM_CLI" not in env and "GREETING" not in env  # build args stay out of the image
    cfg: Any = inspect(daemon, img)
    c = cfg["Config"]
    assert cfg["Author"] == "someone@example.com"
    assert c["Labels"] == {"org.example.name": "hello", "other": "2"}
    assert c["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    assert c["Volumes"] == {"/data": {}}
    assert c["StopSignal"] == "SIGUSR1"
    assert c["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000,
                                "Retries": 2}
    assert c["OnBuild"] == ["RUN echo triggered > /tmp/onbuild"]
    assert c["Shell"] == ["/bin/sh", "-c"]
    history = [h["CreatedBy"] for h in api.history(img)]
    assert "/bin/sh -c #(nop)  ENV PLAIN=one QUOTED=two words DERIVED=hello-x" in history
    assert '|2 FROM_CLI=cli-val GREETING=hello /bin/sh -c echo "run:$GREETING:$FROM_CLI:' \
        '$PLAIN" > /run.txt' in history


def test_onbuild_triggers_run_in_child(daemon: Daemon, api: docker.APIClient,
                                       tags: list[str], tmp_path: Path) -> None:
    parent = write_tree(tmp_path / "p", {"Dockerfile": "FROM busybox\n"
                                         "ONBUILD RUN echo triggered > /onbuild.txt\n"})
    child = write_tree(tmp_path / "c", {"Dockerfile": "FROM onb-parent:1\nRUN cat /onbuild.txt\n"})
    tags.extend(["onb-child:1", "onb-parent:1"])
    assert build(api, parent, "onb-parent:1")[2] is None
    assert daemon.docker("run", "--rm", "onb-parent:1", "ls", "/onbuild.txt",
                         check=False).returncode != 0
    text, _, error = build(api, child, "onb-child:1")
    assert error is None, "".join(text)
    assert "# Executing 1 build trigger\n" in text
    assert run(daemon, "onb-child:1", "cat", "/onbuild.txt") == "triggered\n"
    cfg: Any = inspect(daemon, "onb-child:1")
    assert not cfg["Config"].get("OnBuild")


def test_entrypoint_resets_inherited_cmd(daemon: Daemon, api: docker.APIClient,
                                         tags: list[str], tmp_path: Path) -> None:
    ctx = write_tree(tmp_path, {"Dockerfile": 'FROM busybox\nENTRYPOINT ["echo", "ep"]\n'})
    tags.extend(["ep:1", "ep:2"])
    assert build(api, ctx, "ep:1")[2] is None
    assert run(daemon, "ep:1") == "ep\n"  # busybox's CMD ["sh"] is gone
    write_tree(tmp_path, {"Dockerfile": 'FROM busybox\nCMD ["arg"]\nENTRYPOINT echo shell\n'})
    assert build(api, ctx, "ep:2")[2] is None
    assert run(daemon, "ep:2") == "shell\n"  # the shell form ignores CMD
    cfg: Any = inspect(daemon, "ep:2")
    assert cfg["Config"]["Cmd"] == ["arg"]  # set in this stage: kept


def test_rebuild_is_all_cache_and_changes_invalidate_from_there(
        daemon: Daemon, api: docker.APIClient, tags: list[str], tmp_path: Path) -> None:
    dockerfile = ("FROM busybox\nENV A=1\nRUN echo {run} > /r\nCOPY data.txt /data.txt\n"
                  "RUN cat /r /data.txt > /both\n")
    ctx = write_tree(tmp_path, {"Dockerfile": dockerfile.format(run="one"), "data.txt": "d1\n"})
    tags.append("cache:1")
    _, first, error = build(api, ctx, "cache:1")
    assert error is None and first
    text, second, _ = build(api, ctx, "cache:1")
    assert second == first
    assert "".join(text).count(" ---> Using cache\n") == 4
    assert not any("Running in" in t for t in text)

    write_tree(tmp_path, {"data.txt": "d2\n"})  # a copied file changed: COPY and later rerun
    text, third, _ = build(api, ctx, "cache:1")
    assert third != first and "".join(text).count(" ---> Using cache\n") == 2
    assert run(daemon, "cache:1", "cat", "/both") == "one\nd2\n"

    write_tree(tmp_path, {"Dockerfile": dockerfile.format(run="two")})  # a RUN changed
    text, fourth, _ = build(api, ctx, "cache:1")
    assert "".join(text).count(" ---> Using cache\n") == 1  # only ENV
    assert run(daemon, "cache:1", "cat", "/both") == "two\nd2\n"

    text, fifth, _ = build(api, ctx, "cache:1", nocache=True)
    assert "Using cache" not in "".join(text) and fifth not in (first, fourth)
    cfg: Any = inspect(daemon, "cache:1")
    parent = cfg["Parent"]  # the intermediate image of the step before: listed with -a only
    assert parent and parent in daemon.docker("images", "-a", "-q", "--no-trunc").stdout
    assert parent not in daemon.docker("images", "-q", "--no-trunc").stdout


def test_failing_run_reports_and_leaves_nothing(daemon: Daemon, api: docker.APIClient,
                                                tags: list[str], tmp_path: Path) -> None:
    ctx = write_tree(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo before > /b\n"
                                              "RUN echo failing && exit 3\n"})
    text, image_id, error = build(api, ctx, "fail:1")
    assert image_id is None
    assert error == {"code": 3, "message": "The command '/bin/sh -c echo failing && exit 3' "
                                           "returned a non-zero code: 3"}
    assert "failing\n" in text
    assert daemon.docker("ps", "-aq").stdout == ""
    assert active_snapshots(daemon) == []
    write_tree(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo before > /b\nRUN true\n"})
    tags.append("fail:1")
    text, _, error = build(api, ctx, "fail:1")  # the step that succeeded is cached
    assert error is None and "".join(text).count("Using cache") == 1


def test_bad_dockerfile_is_a_400_with_the_line(api: docker.APIClient, tmp_path: Path) -> None:
    ctx = write_tree(tmp_path, {"Dockerfile": "FROM busybox\nRUNN true\n"})
    with pytest.raises(docker.errors.APIError) as info:
        build(api, ctx)
    assert info.value.status_code == 400
    assert "dockerfile parse error on line 2: unknown instruction: RUNN" in str(info.value)
    with pytest.raises(docker.errors.NotFound, match="Cannot locate specified Dockerfile: Nope"):
        build(api, ctx, dockerfile="Nope")
    write_tree(tmp_path, {"Dockerfile": "FROM busybox\nCOPY ../outside /x\n"})
    _, _, error = build(api, ctx)
    assert error is not None and "outside the build context" in error["message"]


def test_multistage_target_skips_unneeded_stage(daemon: Daemon, api: docker.APIClient,
                                                tags: list[str], tmp_path: Path) -> None:
    ctx = write_tree(tmp_path, {"Dockerfile": """\
FROM busybox AS broken
RUN echo this stage must not run && exit 1
FROM busybox AS one
RUN echo from-one > /one.txt
FROM busybox AS two
RUN echo from-two > /two.txt
FROM broken AS unused
FROM busybox AS final
COPY --from=one /one.txt /got/
COPY --from=2 /two.txt /got/
RUN cat /got/one.txt /got/two.txt
FROM final AS later
RUN exit 1
"""})
    tags.append("multi:1")
    text, _, error = build(api, ctx, "multi:1", target="final")
    joined = "".join(text)
    assert error is None, joined
    assert "must not run" not in joined and "Step 1/8 : FROM busybox AS one" in joined
    assert run(daemon, "multi:1", "cat", "/got/one.txt", "/got/two.txt") == \
        "from-one\nfrom-two\n"
    assert daemon.docker("ps", "-aq").stdout == ""


def test_docker_cli_classic_builder(daemon: Daemon, tags: list[str], tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_BUILDKIT", "0")
    write_tree(tmp_path, {"Dockerfile": 'FROM busybox\nARG WHO=world\nRUN echo hi $WHO > /hi\n'
                                        'COPY . /ctx/\nCMD ["cat", "/hi"]\n',
                          ".dockerignore": "secret\n", "secret": "no", "kept": "yes"})
    tags.extend(["cli:1", "cli:2"])
    iid = tmp_path.parent / f"{tmp_path.name}.iid"
    done = daemon.docker("build", "-t", "cli:1", "-t", "cli:2", "--build-arg", "WHO=cli",
                         "--iidfile", str(iid), "--label", "via=cli", str(tmp_path))
    assert "Successfully tagged cli:1" in done.stdout and "hi cli" not in done.stdout
    assert run(daemon, "cli:2") == "hi cli\n"
    assert run(daemon, "cli:1", "ls", "-A", "/ctx") == ".dockerignore\nDockerfile\nkept\n"
    image_id = iid.read_text().strip()
    assert image_id.startswith("sha256:")
    cfg: Any = inspect(daemon, "cli:1")
    assert cfg["Id"] == image_id and cfg["Config"]["Labels"] == {"via": "cli"}
    assert daemon.docker("ps", "-aq").stdout == ""
    failing = write_tree(tmp_path, {"Dockerfile": "FROM busybox\nRUN exit 7\n"})
    failed = daemon.docker("build", str(failing), check=False)
    assert failed.returncode == 7 or failed.returncode == 1
    assert "The command '/bin/sh -c exit 7' returned a non-zero code: 7" in failed.stderr
