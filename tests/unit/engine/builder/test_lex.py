"""Variable substitution and word splitting, cases from buildkit's shell/lex_test.go."""

import pytest

from berth.engine.builder.errors import DockerfileError
from berth.engine.builder.lex import EXPANDED, Lexer, expand, expand_words

ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "EMPTY": "", "SPACED": "a b  c",
       "FILE": "archive.tar.gz", "PATH_": "/usr/local/bin/app"}


@pytest.mark.parametrize(("text", "expected"), [
    ("hello", "hello"),
    ("he'll'o", "hello"),
    ('he"ll"o', "hello"),
    ("$PWD", "/home"),
    ("${PWD}", "/home"),
    ("$PWD/x", "/home/x"),
    ("${PWD}x", "/homex"),
    ("$PWDx", ""),
    ("'$PWD'", "$PWD"),
    ('"$PWD"', "/home"),
    ('"${PWD} x"', "/home x"),
    ("\\$PWD", "$PWD"),
    ("\\${PWD}", "${PWD}"),
    ("a\\ b", "a b"),
    ("a\\", "a"),
    ('"a\\"b"', 'a"b'),
    ('"a\\b"', "a\\b"),
    ('"a\\\\b"', "a\\b"),
    ("'a\\b'", "a\\b"),
    ("$", "$"),
    ("a$", "a$"),
    ("$ x", "$ x"),
    ("$/", "$/"),
    ("$KOREAN", "한국어"),
    ("${UNSET}", ""),
    ("$1", ""),
    # defaults and alternatives
    ("${UNSET:-def}", "def"),
    ("${EMPTY:-def}", "def"),
    ("${PWD:-def}", "/home"),
    ("${UNSET-def}", "def"),
    ("${EMPTY-def}", ""),
    ("${UNSET:+alt}", ""),
    ("${EMPTY:+alt}", ""),
    ("${PWD:+alt}", "alt"),
    ("${EMPTY+alt}", "alt"),
    ("${UNSET+alt}", ""),
    ("${UNSET:-${PWD}}", "/home"),
    ("${UNSET:-'quoted }'}", "quoted }"),
    ("${UNSET:-a b}", "a b"),
    ("${PWD:?must}", "/home"),
    ("${EMPTY?x}", ""),
    # prefix / suffix removal
    ("${FILE#*.}", "tar.gz"),
    ("${FILE##*.}", "gz"),
    ("${FILE%.*}", "archive.tar"),
    ("${FILE%%.*}", "archive"),
    ("${FILE#nomatch}", "archive.tar.gz"),
    ("${PATH_#/usr/}", "local/bin/app"),
    ("${PATH_##*/}", "app"),
    ("${PATH_%/*}", "/usr/local/bin"),
    ("${FILE%.t?r.gz}", "archive"),
    ("${FILE#[a-c]}", "rchive.tar.gz"),
    ("${FILE#\\*}", "archive.tar.gz"),
    ("${UNSET#x}", ""),
    # replacement
    ("${FILE/a/A}", "Archive.tar.gz"),
    ("${FILE//a/A}", "Archive.tAr.gz"),
    ("${FILE/.*/}", "archive"),
    ("${FILE/r}", "achive.tar.gz"),
])
def test_expand(text, expected):
    assert expand(text, ENV) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("hello world", ["hello", "world"]),
    ("  hello   world  ", ["hello", "world"]),
    ('"hello world"', ["hello world"]),
    ("'hello  world'", ["hello  world"]),
    ("hello\\ world", ["hello world"]),
    ("$SPACED", ["a", "b", "c"]),
    ('"$SPACED"', ["a b  c"]),
    ("x$SPACED", ["xa", "b", "c"]),
    ("${UNSET:-a b}", ["a", "b"]),
    ("$EMPTY", []),
    ('""', []),  # buildkit drops empty words, even quoted ones
    ('a "" b', ["a", "b"]),
    ("a'b c'd", ["ab cd"]),
    ("", []),
])
def test_expand_words(text, expected):
    assert expand_words(text, ENV) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("`$PWD", "$PWD"),
    ("a\\b", "a\\b"),
    ('"a`"b"', 'a"b'),
    ("C:\\path\\$SHELL", "C:\\path\\bash"),
])
def test_backtick_escape(text, expected):
    assert expand(text, ENV, escape="`") == expected


@pytest.mark.parametrize(("text", "reason"), [
    ("${PWD", "syntax error: missing '}'"),
    ("${", "syntax error: missing '}'"),
    ("${UNSET:-x", "syntax error: missing '}'"),
    ("${}", "syntax error: bad substitution"),
    ("${:x}", "syntax error: bad substitution"),
    ("${{x}", "syntax error: bad substitution"),
    ("${UNSET:?boom}", "UNSET: boom"),
    ("${UNSET:?}", "UNSET: is not allowed to be unset"),
    ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
    ("${UNSET?}", "UNSET: is not allowed to be unset"),
    ("${PWD:=x}", "unsupported modifier (:=) in substitution"),
    ("${PWD:#x}", "unsupported modifier (:#) in substitution"),
    ("${PWD^x}", "unsupported modifier (^) in substitution"),
    ("'open", "unexpected end of statement while looking for matching single-quote"),
    ('"open', "unexpected end of statement while looking for matching double-quote"),
])
def test_errors(text, reason):
    with pytest.raises(DockerfileError) as caught:
        expand(text, ENV)
    assert caught.value.message.endswith(f": {reason}")
    assert caught.value.message.startswith("failed to process ")
    assert caught.value.status == 400


def test_raw_modes_keep_what_heredoc_detection_needs():
    lexer = Lexer(raw_quotes=True, raw_escapes=True, skip_unset=True)
    assert lexer.process('RUN <<"EOF" $X ${Y} a\\ b', {})[1] == [
        "RUN", '<<"EOF"', "$X", "${Y}", "a\\ b"]


def test_expanded_instructions_are_dockers():
    assert "RUN" not in EXPANDED and "CMD" not in EXPANDED and "ONBUILD" not in EXPANDED
    assert {"COPY", "ENV", "FROM", "WORKDIR", "USER"} <= EXPANDED
