from __future__ import annotations

import pytest

from berth.cli.flags import ArgCountError, Flag, FlagSet, UsageError
from berth.cli.runconfig import RUN_FLAGS, build_spec, nano_cpus, ram_in_bytes

RUN = FlagSet(RUN_FLAGS, interspersed=False)


def test_parsing_stops_at_the_image():
    opts, args = RUN.parse(["-d", "--rm", "busybox", "sh", "-c", "echo -d --rm"])
    assert opts.detach and opts.rm
    assert args == ["busybox", "sh", "-c", "echo -d --rm"]


def test_grouped_shorthands_and_attached_values():
    opts, args = RUN.parse(["-dit", "-eA=1", "--env=B=2", "-e", "C=3", "-m64m", "img"])
    assert opts.detach and opts.interactive and opts.tty
    assert opts.env == ["A=1", "B=2", "C=3"]
    assert opts.memory == 64 << 20 and args == ["img"]


def test_h_is_hostname_for_run_not_help():
    opts, _ = RUN.parse(["-h", "box", "img"])
    assert opts.hostname == "box"


@pytest.mark.parametrize(("argv", "message"), [
    (["--foo"], "unknown flag: --foo"),
    (["-z"], "unknown shorthand flag: 'z' in -z"),
    (["-e"], "flag needs an argument: 'e' in -e"),
    (["--name"], "flag needs an argument: --name"),
    (["-m", "x"], "invalid argument \"x\" for \"-m, --memory\" flag: invalid size: 'x'"),
    (["--cpus", "x"], "invalid argument \"x\" for \"--cpus\" flag: failed to parse x as a "
                      "rational number"),
    (["--pids-limit", "x"], "invalid argument \"x\" for \"--pids-limit\" flag: "
                            "strconv.ParseInt: parsing \"x\": invalid syntax"),
])
def test_docker_flag_errors(argv, message):
    with pytest.raises(UsageError) as info:
        RUN.parse(argv)
    assert str(info.value) == message and info.value.exit_code == 125


@pytest.mark.parametrize(("text", "size"), [
    ("64m", 64 << 20), ("1g", 1 << 30), ("512", 512), ("1.5k", 1536), ("10MB", 10 << 20),
    ("2MiB", 2 << 20),
])
def test_ram_in_bytes(text, size):
    assert ram_in_bytes(text) == size


def test_nano_cpus():
    assert nano_cpus("0.5") == 500_000_000
    assert nano_cpus("3/2") == 1_500_000_000
    with pytest.raises(ValueError, match="too precise"):
        nano_cpus("0.0000000001")


def test_arg_count_error_exit_code():
    assert ArgCountError("x").exit_code == 1


def test_build_spec_entrypoint_env_and_attach(tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nFROM_FILE=1\nHOME_VAR\n")
    opts, args = RUN.parse(["--entrypoint=", "--env-file", str(env_file), "-e", "UNSET",
                            "-e", "HOME_VAR", "-l", "a=b", "-l", "flag", "-i", "--rm",
                            "img", "ls"])
    spec = build_spec(opts, args, {"HOME_VAR": "x"}, detach=False)
    assert spec.entrypoint == ("",) and spec.cmd == ("ls",)
    assert spec.env == ("FROM_FILE=1", "HOME_VAR=x", "HOME_VAR=x")
    assert spec.labels == {"a": "b", "flag": ""}
    assert spec.attach_stdin and spec.attach_stdout and spec.auto_remove
    body = spec.to_json()
    assert body["StdinOnce"] is True and "Cmd" in body


def test_detached_spec_attaches_nothing():
    opts, args = RUN.parse(["-d", "img"])
    spec = build_spec(opts, args, {}, detach=True)
    assert not (spec.attach_stdin or spec.attach_stdout or spec.attach_stderr)
    assert spec.cmd is None


def test_bool_flag_value():
    flags = FlagSet((Flag("all", "a", "bool"),))
    assert flags.parse(["--all=false"])[0].all is False
    with pytest.raises(UsageError, match="ParseBool"):
        flags.parse(["--all=maybe"])


_GO_UNITS_SIZE = r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$"  # go-units' sizeRegex


@pytest.mark.parametrize("text", [
    "64m", "64M", "1g", "512", "1.5k", "10MB", "2MiB", "5 b", "5 mi", "5ib", "5i", "5 ",
    "7 kib", "0", "1.2.3", "64m\n", "", " ", "m", "b", "5bb", "5m i", "-1", "5  m", "1.",
    ".5", "5x", "5 kb ", "\u0665m", "\u00b2m", "1e3", "5K", "5p", "5kB\n\n",
])
def test_ram_in_bytes_accepts_what_go_units_regex_accepts(text):
    import re

    match = re.match(_GO_UNITS_SIZE, text)
    try:
        got: int | str = ram_in_bytes(text)
    except ValueError as err:
        got = str(err)
    if match is None:
        assert got == f"invalid size: '{text}'"
        return
    try:
        factor = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
        want: int | str = int(float(match.group(1)) * factor.get(
            (match.group(2) or "").lower(), 1))
    except ValueError as err:
        want = str(err)
    assert got == want
