"""berth diff, commit, system df and system prune against the fake daemon (issue 12)."""

from __future__ import annotations

import io
import json
import sys

import pytest
from fake_daemon import CID, IMAGE_ID

from berth.cli.commands.system_df import summary_rows
from berth.cli.commands.system_prune import warning


def test_diff_prints_docker_kinds(berth, daemon):
    daemon.state.changes = [{"Kind": 0, "Path": "/etc"}, {"Kind": 1, "Path": "/etc/new"},
                            {"Kind": 2, "Path": "/tmp/gone"}]
    code, out, _ = berth("diff", "web")
    assert (code, out) == (0, "C /etc\nA /etc/new\nD /tmp/gone\n")
    assert daemon.state.find("GET", "/changes").path.endswith("/containers/web/changes")


def test_diff_of_unchanged_container_prints_nothing(berth, daemon):
    assert berth("container", "diff", "web") == (0, "", "")


def test_diff_missing_container(berth):
    assert berth("diff", "nosuch") == (1, "", "Error response from daemon: No such "
                                              "container: nosuch\n")


def test_commit_sends_docker_query_and_prints_id(berth, daemon):
    code, out, _ = berth("commit", "-a", "me <me@x>", "-m", "msg", "-c", "ENV A=1",
                         "-c", "CMD [\"sh\"]", "web", "repo/app:v1")
    assert (code, out) == (0, IMAGE_ID + "\n")
    req = daemon.state.find("POST", "/commit")
    assert req.query == {"container": ["web"], "repo": ["repo/app"], "tag": ["v1"],
                         "comment": ["msg"], "author": ["me <me@x>"],
                         "changes": ["ENV A=1", "CMD [\"sh\"]"]}


def test_commit_untagged_defaults_latest_and_no_pause(berth, daemon):
    assert berth("container", "commit", "--pause=false", CID, "app")[0] == 0
    req = daemon.state.find("POST", "/commit")
    assert req.query["tag"] == ["latest"] and req.query["pause"] == ["0"]
    assert berth("commit", "web")[0] == 0
    assert "repo" not in daemon.state.requests[-1].query


def test_commit_refuses_digest(berth):
    code, _, err = berth("commit", "web", "app@sha256:" + "a" * 64)
    assert (code, err) == (1, "refusing to create a tag with a digest reference\n")


USAGE = {
    "LayersSize": 10_000_000,
    "Images": [{"Id": IMAGE_ID, "RepoTags": ["busybox:latest"], "Created": 1_700_000_000,
                "Size": 4_000_000, "SharedSize": 0, "Containers": 1},
               {"Id": "sha256:" + "cd" * 32, "RepoTags": [], "Created": 1_700_000_000,
                "Size": 6_000_000, "SharedSize": 0, "Containers": 0}],
    "Containers": [{"Id": CID, "Names": ["/web"], "Image": "busybox", "Command": "sh",
                    "Created": 1_700_000_000, "State": "running", "Status": "Up",
                    "SizeRw": 300, "SizeRootFs": 5000, "Mounts": []},
                   {"Id": "9" * 64, "Names": ["/old"], "Image": "busybox", "Command": "sh",
                    "Created": 1_700_000_000, "State": "exited", "Status": "Exited (0)",
                    "SizeRw": 100, "Mounts": []}],
    "Volumes": [{"Name": "data", "Driver": "local", "Scope": "local",
                 "UsageData": {"Size": 4096, "RefCount": 1}},
                {"Name": "idle", "Driver": "local", "Scope": "local",
                 "UsageData": {"Size": 1024, "RefCount": 0}}],
    "BuildCache": [{"ID": "abcdef1234567890", "Type": "regular", "Size": 2000,
                    "InUse": False, "Shared": False, "UsageCount": 2,
                    "CreatedAt": "2026-12-05T08:00:00.123456789Z",
                    "LastUsedAt": "2026-12-05T08:00:00Z"}],
}


def test_system_df_summary_as_docker(berth, daemon):
    daemon.state.disk_usage = USAGE
    code, out, _ = berth("system", "df")
    assert code == 0
    assert out == (
        "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n"
        "Images          2         1         10MB      6MB (60%)\n"
        "Containers      2         1         400B      100B (25%)\n"
        "Local Volumes   2         1         5.12kB    1.024kB (20%)\n"
        "Build Cache     1         0         2kB       2kB\n")


def test_system_df_empty_and_format(berth, daemon):
    assert [r["Reclaimable"] for r in summary_rows({})] == ["0B"] * 4
    daemon.state.disk_usage = USAGE
    _code, out, _ = berth("system", "df", "--format", "{{.Type}}={{.TotalCount}}")
    assert out == "Images=2\nContainers=2\nLocal Volumes=2\nBuild Cache=1\n"


def test_system_df_verbose_sections(berth, daemon):
    daemon.state.disk_usage = USAGE
    code, out, _ = berth("system", "df", "-v")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Images space usage:"
    assert lines[2].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE",
                                "SHARED", "SIZE", "UNIQUE", "SIZE", "CONTAINERS"]
    assert lines[3].split()[:3] == ["busybox", "latest", "abababababab"]
    assert lines[3].split()[-3:] == ["0B", "4MB", "1"]
    web = next(line for line in lines if line.endswith("web"))
    assert "300B" in web and "virtual" not in web  # docker's df drops SizeRootFs
    assert "Local Volumes space usage:" in lines
    start = lines.index("Local Volumes space usage:")
    assert lines[start + 2].split() == ["VOLUME", "NAME", "LINKS", "SIZE"]
    assert lines[start + 3].split() == ["data", "1", "4.096kB"]
    assert "Build cache usage: 2kB" in lines
    assert lines[-1].split()[:3] == ["abcdef123456", "regular", "2kB"]


def test_system_prune_warning_as_docker():
    assert warning(False, True, {}) == (
        "WARNING! This will remove:\n"
        "  - all stopped containers\n"
        "  - all networks not used by at least one container\n"
        "  - all anonymous volumes not used by at least one container\n"
        "  - all dangling images\n"
        "  - unused build cache\n"
        "\nAre you sure you want to continue?")
    assert warning(True, False, {"label": ["a=b"]}).endswith(
        "  - all images without at least one container associated to them\n"
        "  - all build cache\n"
        "\n  Items to be pruned will be filtered with:\n  - label=a=b\n"
        "\nAre you sure you want to continue?")


def test_system_prune_in_docker_order(berth, daemon):
    daemon.state.pruned = ["c1"]
    daemon.state.volumes_pruned = ["v1"]
    daemon.state.networks = [{"Name": "n1", "Id": "n" * 64}]
    code, out, _ = berth("system", "prune", "-f", "--volumes", "-a")
    assert code == 0
    assert out == ("Deleted Containers:\nc1\n\n"
                   "Deleted Networks:\nn1\n\n"
                   "Deleted Volumes:\nv1\n\n"
                   f"Deleted Images:\nuntagged: old:1\ndeleted: {IMAGE_ID}\n\n"
                   "Deleted build cache objects:\ncache1\n\n"
                   "Total reclaimed space: 1.505MB\n")
    paths = [r.path.removeprefix("/v1.45") for r in daemon.state.requests]
    assert paths == ["/containers/prune", "/networks/prune", "/volumes/prune",
                     "/images/prune", "/build/prune"]
    images = daemon.state.find("POST", "/images/prune")
    assert json.loads(images.query["filters"][0]) == {"dangling": ["false"]}
    assert daemon.state.find("POST", "/build/prune").query["all"] == ["1"]


def test_system_prune_declined_and_until_with_volumes(berth, daemon, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    code, out, _ = berth("system", "prune")
    assert code == 0 and out.endswith("Are you sure you want to continue? [y/N] ")
    assert daemon.state.requests == []
    code, _, err = berth("system", "prune", "--volumes", "--filter", "until=1h")
    assert (code, err) == (1, 'ERROR: The "until" filter is not supported with '
                              '"--volumes"\n')


@pytest.mark.parametrize("argv", [("rm", "-v", "web"), ("container", "rm", "--volumes",
                                                         "web")])
def test_rm_v_asks_for_anonymous_volumes(berth, daemon, argv):
    assert berth(*argv) == (0, "web\n", "")
    assert daemon.state.find("DELETE", "/containers/web").query["v"] == ["1"]


@pytest.mark.parametrize(("argv", "first", "last"), [
    (("cp", "a"), "berth: 'berth cp' requires 2 arguments", "Run 'berth cp --help'"),
    (("diff",), "berth: 'berth diff' requires 1 argument", "Run 'berth diff --help'"),
    (("commit",), "berth: 'berth commit' requires at least 1 and at most 2 arguments",
     "Run 'berth commit --help'"),
    (("volume", "create", "a", "b"), "berth: 'berth volume create' requires at most 1 "
     "argument", "SRun 'berth volume create --help'"),  # docker 28's own typo
    (("volume", "rm"), "berth: 'berth volume rm' requires at least 1 argument",
     "See 'berth volume rm --help'"),
    (("system", "df", "x"), "berth: 'berth system df' accepts no arguments",
     "Run 'berth system df --help'"),
])
def test_argument_counts_in_docker_28s_words(berth, argv, first, last):
    code, _, err = berth(*argv)
    lines = err.splitlines()
    assert (code, lines[0], lines[-1]) == (1, first, f"{last} for more information")


def test_system_df_verbose_custom_format_runs_once_over_all(berth, daemon):
    daemon.state.disk_usage = USAGE
    code, out, _ = berth("system", "df", "-v", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and not out.endswith("\n")  # Go's Execute: no newline of its own
    assert [v["Name"] for v in doc["Volumes"]] == ["data", "idle"]
    assert doc["Images"][1]["Repository"] == "<none>" and doc["Images"][0]["Digest"] == ""
    assert "\\u003cnone\\u003e" in out  # each row marshals itself, HTML-escaped
    assert doc["BuildCache"][0]["ID"] == "abcdef1234567890"  # not truncated
    assert doc["BuildCache"][0]["CreatedAt"] == "2026-12-05 08:00:00.123456789 +0000 UTC"
    assert "Label" not in doc["Containers"][0]


def test_raw_formats(berth, daemon):
    daemon.state.disk_usage = USAGE
    daemon.state.volumes = [{"Name": "v", "Driver": "local"}]
    out = berth("system", "df", "--format", "raw")[1]
    assert out.startswith("type: Images\ntotal: 2\nactive: 1\nsize: 10MB\n"
                          "reclaimable: 6MB (60%)\n\ntype: Containers\n")
    assert berth("volume", "ls", "--format", "raw")[1] == "name: v\ndriver: local\n\n"
    assert berth("volume", "ls", "--format", "raw", "-q")[1] == "name: v\n"
