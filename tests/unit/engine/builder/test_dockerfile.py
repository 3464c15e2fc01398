"""The Dockerfile reader: directives, comments, continuations, heredocs, errors."""

import pytest

from berth.engine.builder import instructions as ins
from berth.engine.builder.dockerfile import parse
from berth.engine.builder.errors import DockerfileError


def only(source: str) -> ins.Instruction:
    nodes = parse(source).instructions
    assert len(nodes) == 1, nodes
    return nodes[0]


def shell_of(source: str) -> tuple[str, ...]:
    node = only(source)
    assert isinstance(node, ins.Run)
    return node.command.args


@pytest.mark.parametrize(("source", "args"), [
    ("RUN echo hi", ("echo hi",)),
    ("run echo hi", ("echo hi",)),
    ("   RUN   echo hi   ", ("echo hi",)),
    ("RUN echo a \\\n  && echo b", ("echo a   && echo b",)),
    ("RUN echo a \\  \t\n&& echo b", ("echo a && echo b",)),
    ("RUN echo a\\\nb", ("echo ab",)),
    # comment lines and empty lines inside a continuation are dropped
    ("RUN echo a \\\n# comment\n  # indented comment\n&& echo b", ("echo a && echo b",)),
    ("RUN echo a \\\n\n   \n&& echo b", ("echo a && echo b",)),
    # an escaped escape at the end is not a continuation
    ("RUN echo a\\\\\nRUN x", None),
    # a lone escape on its own line continues
    ("RUN echo a \\\n\\\nb", ("echo a b",)),
    ("RUN echo \\", ("echo",)),
    ("RUN echo a # not a comment", ("echo a # not a comment",)),
    ("RUN echo a\r\n", ("echo a",)),
    ("\ufeffRUN echo bom", ("echo bom",)),
])
def test_continuations_and_comments(source, args):
    if args is None:
        assert len(parse(source).instructions) == 2
    else:
        assert shell_of(source) == args


def test_line_numbers_and_original():
    df = parse("# c\n\nFROM a\nRUN x \\\n  y\n\nCMD z\n")
    assert [(n.keyword, n.line, n.end_line) for n in df.instructions] == [
        ("FROM", 3, 3), ("RUN", 4, 5), ("CMD", 7, 7)]
    assert df.instructions[1].original == "RUN x   y"


def test_empty_continuation_warns():
    df = parse("RUN a \\\n\nb")
    assert df.warnings[0].startswith("[WARNING]: Empty continuation line found in:")


@pytest.mark.parametrize(("source", "escape", "directives"), [
    ("# escape=`\nRUN a", "`", {"escape": "`"}),
    ("#escape = `\nRUN a", "`", {"escape": "`"}),
    ("# syntax=docker/dockerfile:1\n# escape=\\\nRUN a", "\\",
     {"syntax": "docker/dockerfile:1", "escape": "\\"}),
    ("# check=skip=all\nRUN a", "\\", {"check": "skip=all"}),
    ("# SYNTAX=x\nRUN a", "\\", {"syntax": "x"}),
    # a directive after a comment, a blank line or an instruction is only a comment
    ("# hello\n# escape=`\nRUN a", "\\", {}),
    ("\n# escape=`\nRUN a", "\\", {}),
    ("RUN a\n# escape=`", "\\", {}),
    ("# unknown=1\n# escape=`\nRUN a", "\\", {}),
])
def test_directives(source, escape, directives):
    df = parse(source)
    assert df.escape == escape
    assert {d.name: d.value for d in df.directives} == directives


def test_backtick_escape_windows_file():
    df = parse("# escape=`\nFROM windows\nCOPY C:\\src C:\\dst\nRUN dir C:\\ `\n  /w\n")
    copy, run = df.instructions[1], df.instructions[2]
    assert isinstance(copy, ins.Copy) and copy.sources == ("C:\\src",) and copy.dest == "C:\\dst"
    assert isinstance(run, ins.Run) and run.command.args == ("dir C:\\   /w",)


@pytest.mark.parametrize(("source", "message"), [
    ("", "the Dockerfile cannot be empty"),
    ("# only a comment\n\n", "file with no instructions"),
    ("# escape=x\nRUN a", "invalid escape token 'x' does not match ` or \\"),
    ("# escape=`\n# escape=`\nRUN a", "only one escape parser directive can be used"),
    ("FROM a\nRUN a\nRUNN b", "dockerfile parse error on line 3: unknown instruction: RUNN"
     " (did you mean RUN?)"),
    ("FROM a\ncopyy a b", "dockerfile parse error on line 2: unknown instruction: copyy"
     " (did you mean copy?)"),
    ("FROM a\nFOOBAR x", "dockerfile parse error on line 2: unknown instruction: FOOBAR"),
    ("RUN <<EOF\nno end", "unterminated heredoc"),
])
def test_errors(source, message):
    with pytest.raises(DockerfileError) as caught:
        parse(source)
    assert caught.value.message == message


def test_error_carries_line():
    with pytest.raises(DockerfileError) as caught:
        parse("FROM a\n\nENV\n")
    assert caught.value.line == 3
    assert caught.value.message == (
        "dockerfile parse error on line 3: ENV requires at least one argument")


def test_heredoc_run():
    node = only("RUN <<EOF\necho $HOME\n  # not a comment \\\nEOF\n")
    assert isinstance(node, ins.Run)
    assert node.command.args == ("<<EOF",)
    (doc,) = node.command.files
    assert doc == ins.Heredoc(name="EOF", content="echo $HOME\n  # not a comment \\\n",
                              expand=True, chomp=False)
    assert (node.line, node.end_line) == (1, 4)


@pytest.mark.parametrize(("marker", "name", "expand", "chomp", "fd"), [
    ("<<EOF", "EOF", True, False, 0),
    ('<<"EOF"', "EOF", False, False, 0),
    ("<<'EOF'", "EOF", False, False, 0),
    ('<<E"O"F', "EOF", False, False, 0),
    ("<<-EOF", "EOF", True, True, 0),
    ('<<-"EOF"', "EOF", False, True, 0),
    ("3<<EOF", "EOF", True, False, 3),
])
def test_heredoc_markers(marker, name, expand, chomp, fd):
    node = only(f"RUN cat {marker} > /x\n\tbody\n\t{name}\n" if chomp
                else f"RUN cat {marker} > /x\n\tbody\n{name}\n")
    assert isinstance(node, ins.Run)
    (doc,) = node.command.files
    assert (doc.name, doc.expand, doc.chomp, doc.fd) == (name, expand, chomp, fd)
    assert doc.content == ("body\n" if chomp else "\tbody\n")


def test_several_heredocs_and_copy():
    df = parse("FROM a\nRUN cat <<A <<B\na\nA\nb\nB\nCOPY <<one <<-two /dst/\n1\none\n\t2\n\ttwo\n")
    run, copy = df.instructions[1], df.instructions[2]
    assert isinstance(run, ins.Run)
    assert [(d.name, d.content) for d in run.command.files] == [("A", "a\n"), ("B", "b\n")]
    assert isinstance(copy, ins.Copy)
    assert copy.sources == () and copy.dest == "/dst/"
    assert [(d.name, d.content) for d in copy.contents] == [("one", "1\n"), ("two", "2\n")]
    assert copy.end_line == 11


def test_heredoc_only_in_shell_form_of_run_copy_add():
    df = parse('FROM a\nRUN ["cat", "<<EOF"]\nENV X=<<EOF\nCMD <<EOF\n')
    assert len(df.instructions) == 4
    assert isinstance(df.instructions[1], ins.Run) and df.instructions[1].command.files == ()


def test_onbuild_heredoc():
    node = only("ONBUILD RUN <<EOF\necho hi\nEOF\n")
    assert isinstance(node, ins.Onbuild)
    assert node.expression == "RUN <<EOF\necho hi\nEOF"
    assert isinstance(node.trigger, ins.Run)
    assert node.trigger.command.files[0].content == "echo hi\n"


def test_copy_heredoc_as_destination_rejected():
    with pytest.raises(DockerfileError, match="COPY cannot accept a heredoc as a destination"):
        parse("COPY a <<EOF\nx\nEOF\n")
