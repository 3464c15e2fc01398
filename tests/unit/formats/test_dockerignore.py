""".dockerignore matching, cases from moby/patternmatcher and the docker CLI."""

import pytest

from berth.errors import InvalidArgument
from berth.formats.dockerignore import DockerIgnore, clean, read_patterns


@pytest.mark.parametrize(("content", "patterns"), [
    ("# comment\n\nfoo\n  bar  \n", ["foo", "bar"]),
    (" # not a comment", ["# not a comment"]),
    ("/abs\n/\n!/x\n", ["abs", "/", "!x"]),
    ("a/../b\n./c/\nd//e\n", ["b", "c", "d/e"]),
    ("! spaced\n", ["!spaced"]),
    ("\ufeffbom\r\nx\r\n", ["bom", "x"]),
])
def test_read_patterns(content, patterns):
    assert read_patterns(content) == patterns


@pytest.mark.parametrize(("patterns", "path", "excluded"), [
    (["*"], "anything", True),
    (["*"], "dir/file", True),  # the parent "dir" matches
    (["*.go"], "main.go", True),
    (["*.go"], "pkg/main.go", False),  # * does not cross /
    (["**/*.go"], "main.go", True),
    (["**/*.go"], "a/b/c/main.go", True),
    (["**/*.go"], "a/b/main.py", False),
    (["a/**/b"], "a/b", True),
    (["a/**/b"], "a/x/y/b", True),
    (["a/**/b"], "a/x/y/b/c", True),
    (["a/**/b"], "a/x/c", False),
    (["a/**"], "a/x", True),
    (["**"], "x/y", True),
    (["dir"], "dir", True),
    (["dir"], "dir/sub/file", True),
    (["dir/"], "dir/sub/file", True),  # cleaned to "dir"
    (["dir"], "dirt", False),
    (["docs/*.md"], "docs/a.md", True),
    (["docs/*.md"], "docs/x/a.md", False),
    (["?.txt"], "a.txt", True),
    (["?.txt"], "ab.txt", False),
    (["[a-c].txt"], "b.txt", True),
    (["[a-c].txt"], "d.txt", False),
    (["[^a].txt"], "b.txt", True),
    (["a.b"], "axb", False),  # . is literal
    (["a+b(c)"], "a+b(c)", True),
    (["\\*x"], "*x", True),
    (["\\*x"], "ax", False),
    (["*", "!keep.txt"], "keep.txt", False),
    (["*", "!keep.txt"], "other.txt", True),
    (["!keep.txt", "*"], "keep.txt", True),  # later lines win
    (["*.log", "!important.log", "important.log"], "important.log", True),
    (["dir", "!dir/keep"], "dir/keep", False),
    (["dir", "!dir/keep"], "dir/keep/deep/file", False),
    (["dir", "!dir/keep"], "dir/other", True),
    (["**/node_modules"], "a/node_modules/x/y.js", True),
    (["/abs"], "abs", False),  # only reading the file strips the leading "/"
    ([], "x", False),
])
def test_match(patterns, path, excluded):
    assert DockerIgnore(patterns).match(path) is excluded


@pytest.mark.parametrize(("patterns", "directory", "descend"), [
    (["node_modules"], "node_modules", False),  # skipped without walking it
    (["node_modules"], "src", True),  # not excluded at all
    (["*", "!keep.txt"], "dir", False),
    (["*", "!dir/keep.txt"], "dir", True),
    (["*", "!dir/sub/keep.txt"], "dir", True),
    (["*", "!dir/sub/keep.txt"], "dir/sub", True),
    (["*", "!dir/sub/keep.txt"], "dir/other", False),
    (["*", "!d*/keep"], "dir", True),
    (["*", "!x*/keep"], "dir", False),
    (["*", "!**/keep.txt"], "dir", True),
    (["dir", "!dir"], "dir", True),
    (["!dir/keep", "dir"], "dir", False),  # the exception comes first: "dir" wins
    (["build", "!build/a", "build/a/b"], "build/a/b", False),
])
def test_must_descend(patterns, directory, descend):
    assert DockerIgnore(patterns).must_descend(directory) is descend


def test_for_build_keeps_dockerfile_and_dockerignore():
    ignore = DockerIgnore(["*", "!src"]).for_build("Dockerfile")
    assert not ignore.match("Dockerfile") and not ignore.match(".dockerignore")
    assert ignore.match("secret") and not ignore.match("src/a")
    custom = DockerIgnore(["docker/"]).for_build("./docker/prod.Dockerfile")
    assert not custom.match("docker/prod.Dockerfile") and custom.match("docker/other")


def test_parse_file():
    ignore = DockerIgnore.parse(b"# ignore build output\n/build\n*.pyc\n!keep.pyc\n")
    assert ignore.match("build/x") and ignore.match("a.pyc") and not ignore.match("keep.pyc")


@pytest.mark.parametrize(("pattern", "message"), [
    ("!", 'illegal exclusion pattern: "!"'),
    ("[a", "syntax error in pattern"),
])
def test_bad_patterns(pattern, message):
    with pytest.raises(InvalidArgument, match=message.replace("[", "\\[")):
        DockerIgnore([pattern])


@pytest.mark.parametrize(("path", "cleaned"), [
    ("", "."), ("a//b/", "a/b"), ("/../a", "/a"), ("a/./b/../c", "a/c"), ("//x", "/x"),
    ("../a", "../a"),
])
def test_clean_is_gos(path, cleaned):
    assert clean(path) == cleaned
