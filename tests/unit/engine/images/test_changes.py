import pytest

from berth.engine.images.changes import apply_changes
from berth.errors import InvalidArgument


def test_all_change_commands():
    config = apply_changes({}, [
        "ENV A=1 B='two words'", "ENV C legacy form", "ENV A=3",
        'CMD ["echo", "hi"]', "ENTRYPOINT /bin/run --flag", "WORKDIR /srv", "USER 1000:1000",
        'LABEL a=b "c d"="e f"', "EXPOSE 80 53/udp", 'VOLUME ["/data", "/logs"]',
        "VOLUME /cache", "STOPSIGNAL SIGINT", "ONBUILD RUN make",
    ])
    assert config["Env"] == ["B=two words", "C=legacy form", "A=3"]
    assert config["Cmd"] == ["echo", "hi"]
    assert config["Entrypoint"] == ["/bin/sh", "-c", "/bin/run --flag"]
    assert config["WorkingDir"] == "/srv" and config["User"] == "1000:1000"
    assert config["Labels"] == {"a": "b", "c d": "e f"}
    assert config["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert set(config["Volumes"]) == {"/data", "/logs", "/cache"}
    assert config["StopSignal"] == "SIGINT"
    assert config["OnBuild"] == ["RUN make"]


def test_shell_form_cmd_and_lowercase_instruction():
    assert apply_changes({}, ["cmd echo $HOME"])["Cmd"] == ["/bin/sh", "-c", "echo $HOME"]


@pytest.mark.parametrize("change", ["RUN make", "FROM scratch", "bogus"])
def test_invalid_change(change):
    with pytest.raises(InvalidArgument, match="is not a valid change command"):
        apply_changes({}, [change])


def test_input_is_not_mutated():
    base = {"Env": ["A=1"]}
    apply_changes(base, ["ENV B=2"])
    assert base == {"Env": ["A=1"]}
