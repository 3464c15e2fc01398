from __future__ import annotations

import json

import pytest
from fake_daemon import CID, IMAGE_ID

from berth.cli.main import main


def test_run_attaches_waits_before_start_and_exits_with_status(berth, daemon):
    daemon.state.exit_code = 3
    code, out, err = berth("run", "--rm", "-e", "A=1", "busybox", "sh", "-c", "exit 3")
    assert (code, out, err) == (3, "out\n", "err\n")
    order = [r.path.rsplit("/", 1)[-1] for r in daemon.state.requests]
    assert order == ["create", "attach", "wait", "start"]
    assert daemon.state.find("POST", "/wait").query["condition"] == ["removed"]
    body = json.loads(daemon.state.find("POST", "/create").body)
    assert body["HostConfig"]["AutoRemove"] is True
    assert body["Cmd"] == ["sh", "-c", "exit 3"] and body["AttachStdout"] is True


def test_run_detached_prints_full_id(berth, daemon):
    code, out, _ = berth("run", "-d", "--name", "web", "busybox")
    assert (code, out) == (0, CID + "\n")
    assert not [r for r in daemon.state.requests if r.path.endswith(("/attach", "/wait"))]


def test_run_missing_image_tries_pull_and_exits_125(berth, daemon):
    daemon.state.missing_images.add("nosuch")
    code, _, err = berth("run", "nosuch")
    assert code == 125
    assert err.startswith("Unable to find image 'nosuch:latest' locally\n"
                          "berth: Error response from daemon: no registry configured\n")
    assert daemon.state.find("POST", "/images/create").query == {"fromImage": ["nosuch"],
                                                                 "tag": ["latest"]}


@pytest.mark.parametrize(("message", "code"), [
    ('exec: "nope": executable file not found in $PATH', 127),
    ("open /x: no such file or directory", 127),
    ('exec: "/etc/passwd": permission denied', 126),
    ("cgroup setup failed", 125),
])
def test_start_failure_exit_codes(berth, daemon, message, code):
    daemon.state.start_error = message
    got, _, err = berth("run", "-d", "busybox")
    assert got == code
    assert err.startswith(f"berth: Error response from daemon: {message}\n")


def test_invalid_flag_value_is_125_with_usage(berth):
    code, out, err = berth("run", "-m", "x", "busybox")
    assert code == 125 and out == ""
    assert err.startswith("invalid argument \"x\" for \"-m, --memory\" flag: invalid size: "
                          "'x'\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n")


def test_missing_arguments_exit_1(berth):
    code, _, err = berth("container", "rm")
    assert code == 1 and err.startswith("berth: 'berth container rm' requires at least 1 "
                                        "argument\n")


def test_multi_target_verbs_report_each_failure(berth, daemon):
    code, out, err = berth("rm", "-f", "web", "running", "other")
    assert code == 1 and out == "web\nother\n"
    assert err == "Error response from daemon: You cannot remove a running container\n"
    assert daemon.state.find("DELETE", "/web").query["force"] == ["1"]


def test_kill_passes_signal_through(berth, daemon):
    assert berth("kill", "-s", "SIGKILL", "web")[0] == 0
    assert daemon.state.find("POST", "/kill").query["signal"] == ["SIGKILL"]


def test_logs_demultiplexes(berth, daemon):
    code, out, err = berth("logs", "-t", "--tail", "2", "web")
    assert (code, out, err) == (0, "out\n", "err\n")
    assert daemon.state.find("GET", "/logs").query["tail"] == ["2"]


def test_inspect_prints_indented_array_and_reports_missing(berth):
    code, out, err = berth("inspect", "web", "busybox", "nosuch")
    docs = json.loads(out)
    assert code == 1 and [d["Id"] for d in docs] == [CID, IMAGE_ID]
    assert out.startswith('[\n    {\n        "Id"')
    assert err == "Error: No such object: nosuch\n"


def test_image_inspect_missing(berth):
    code, out, err = berth("image", "inspect", "nosuch")
    assert (code, out) == (1, "[]\n")
    assert err == "Error response from daemon: No such image: nosuch\n"


def test_rmi_prints_records(berth):
    code, out, _ = berth("rmi", "busybox")
    assert (code, out) == (0, f"Untagged: busybox:latest\nDeleted: {IMAGE_ID}\n")


def test_import_file_streams_with_changes(berth, daemon, tmp_path):
    tar = tmp_path / "rootfs.tar"
    tar.write_bytes(b"t" * 70_000)
    code, out, _ = berth("import", str(tar), "myimg:1", "-c", "ENV PATH=/bin",
                         "-c", 'CMD ["sh"]', "-m", "hello")
    assert (code, out) == (0, IMAGE_ID + "\n")
    req = daemon.state.find("POST", "/images/create")
    assert req.body == b"t" * 70_000 and req.headers["Content-Length"] == "70000"
    assert req.query["repo"] == ["myimg"] and req.query["tag"] == ["1"]
    assert req.query["changes"] == ["ENV PATH=/bin", 'CMD ["sh"]']
    assert req.query["message"] == ["hello"]


def test_bootstrap_prints_progress(berth):
    code, out, _ = berth("image", "bootstrap", "busybox")
    assert code == 0 and out == f"Creating busybox\n{IMAGE_ID}: Done\n"


def test_daemon_unreachable(tmp_path, capsys):
    code = main(["ps"], {"BERTH_HOST": f"unix://{tmp_path}/gone.sock"})
    assert code == 1
    assert capsys.readouterr().err == (f"Cannot connect to the Berth daemon at unix://"
                                       f"{tmp_path}/gone.sock. Is the berth daemon running?\n")


def test_help_exits_zero_without_daemon(tmp_path, capsys):
    assert main(["run", "--help"], {"BERTH_HOST": f"unix://{tmp_path}/gone.sock"}) == 0
    assert "Usage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]" in capsys.readouterr().out


def test_unknown_command(capsys):
    assert main(["frobnicate"], {}) == 1
    assert "unknown command: berth frobnicate" in capsys.readouterr().err
