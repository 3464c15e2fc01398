"""From one logical line to a typed instruction (buildkit ``parser/line_parsers.go`` and
``instructions/parse.go`` in one step), with docker's checks and wording.

Errors raise ``ValueError`` carrying docker's bare reason; :mod:`.dockerfile` adds the
``dockerfile parse error on line N:`` prefix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from berth.engine.builder import instructions as ins
from berth.engine.builder.healthcheck import health_config
from berth.engine.builder.heredoc import parse_marker
from berth.engine.builder.words import (
    WHITESPACE,
    BuilderFlags,
    FlagType,
    parse_words,
    split_command,
    suggest,
)
from berth.formats.goformat import go_quote

B, S, M = FlagType.BOOL, FlagType.STRING, FlagType.STRINGS


@dataclass(frozen=True, kw_only=True)
class LogicalLine:
    """One instruction as the reader assembled it."""

    text: str  # continuations joined, comments dropped
    line: int
    end_line: int
    escape: str
    heredocs: tuple[ins.Heredoc, ...] = ()


@dataclass(frozen=True)
class _Request:
    keyword: str
    flags: BuilderFlags
    flag_words: list[str]
    rest: str
    base: ins.Common
    src: LogicalLine

    def parse_flags(self) -> BuilderFlags:
        self.flags.parse(self.flag_words)
        return self.flags


def parse_instruction(src: LogicalLine) -> ins.Instruction:
    """The typed node for ``src``; raises ValueError with docker's reason."""
    keyword, flag_words, rest = split_command(src.text)
    upper = keyword.upper()
    entry = _PARSERS.get(upper)
    if entry is None:
        raise ValueError(suggest(f"unknown instruction: {keyword}", keyword, _PARSERS, False))
    flag_types, parse = entry
    base = ins.Common(keyword=upper, line=src.line, end_line=src.end_line, original=src.text)
    return parse(_Request(upper, BuilderFlags(dict(flag_types)), flag_words, rest, base, src))


def json_args(rest: str) -> list[str] | None:
    """The exec-form arguments if ``rest`` is a JSON array of strings, else None (shell form)."""
    text = rest.lstrip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise ValueError("when using JSON array syntax, arrays must be comprised of strings only")
    return value


def _reject_constant(name: str) -> object:
    raise ValueError(f"Go's JSON has no {name}")


def _maybe_json(rest: str) -> tuple[list[str], bool]:
    if not rest:
        return [], False
    args = json_args(rest)
    return (args, True) if args is not None else ([rest], False)


def _json_or_words(rest: str) -> tuple[list[str], bool]:
    args = json_args(rest)
    return (args, True) if args is not None else (_split(rest), False)


def _split(rest: str) -> list[str]:
    return WHITESPACE.split(rest) if rest else []


def _one(req: _Request) -> str:
    if not req.rest:
        raise ValueError(f"{req.keyword} requires exactly one argument")
    req.parse_flags()
    return req.rest


def _command(req: _Request) -> ins.CommandLine:
    args, is_json = _maybe_json(req.rest)
    files = tuple(req.src.heredocs)
    return ins.CommandLine(args=tuple(args), prepend_shell=not is_json, files=files)


def _from(req: _Request) -> ins.Instruction:
    args = _split(req.rest)
    name: str | None = None
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not re.fullmatch(r"[a-z][a-z0-9-_.]*", name):
            raise ValueError(f"invalid name for build stage: {go_quote(args[2])}, name can't"
                             " start with a number or contain symbols")
    elif len(args) != 1:
        raise ValueError("FROM requires either one or three arguments")
    flags = req.parse_flags()
    return ins.From(**req.base, base=args[0], stage_name=name, platform=flags.string("platform"))


def _run(req: _Request) -> ins.Instruction:
    flags = req.parse_flags()
    return ins.Run(**req.base, command=_command(req), mounts=flags.strings("mount"),
                   network=flags.string("network"), security=flags.string("security"),
                   devices=flags.strings("device"))


def _cmd(req: _Request) -> ins.Instruction:
    req.parse_flags()
    return ins.Cmd(**req.base, command=_command(req))


def _entrypoint(req: _Request) -> ins.Instruction:
    req.parse_flags()
    return ins.Entrypoint(**req.base, command=_command(req))


def _shell(req: _Request) -> ins.Instruction:
    req.parse_flags()
    args, is_json = _maybe_json(req.rest)
    if not args:
        raise ValueError("SHELL requires at least one argument")
    if not is_json:
        raise ValueError(_not_json("SHELL", req.src.text))
    return ins.Shell(**req.base, shell=tuple(args))


def _not_json(keyword: str, original: str) -> str:
    lowered = original.lower()
    hint = ""
    if (re.search(r'"[a-z]:\\', lowered) and "\\\\" not in lowered
            and "[" in lowered and "]" in lowered):
        hint = (f". It looks like '{lowered}' includes a file path without an escaped"
                " back-slash. JSON requires back-slashes to be escaped such as"
                ' ["c:\\\\path\\\\to\\\\file.exe", "/parameter"]')
    return f"{keyword} requires the arguments to be in JSON form{hint}"


def _sources(req: _Request) -> tuple[tuple[str, ...], str, tuple[ins.Heredoc, ...]]:
    args, _ = _json_or_words(req.rest)
    if len(args) < 2:
        raise ValueError(f"{req.keyword} requires at least two arguments, but only one was"
                         " provided. Destination could not be determined")
    req.parse_flags()
    if parse_marker(args[-1]) is not None:
        raise ValueError(f"{req.keyword} cannot accept a heredoc as a destination")
    bodies = {doc.name: doc for doc in req.src.heredocs}
    paths: list[str] = []
    contents: list[ins.Heredoc] = []
    for src in args[:-1]:
        marker = parse_marker(src)
        if marker is None:
            paths.append(src)
            continue
        body = bodies.get(marker.name)
        contents.append(ins.Heredoc(name=marker.name, content=body.content if body else "",
                                    expand=marker.expand, chomp=marker.chomp, fd=marker.fd))
    return tuple(paths), args[-1], tuple(contents)


def _copy(req: _Request) -> ins.Instruction:
    sources, dest, contents = _sources(req)
    f = req.flags
    return ins.Copy(**req.base, sources=sources, dest=dest, contents=contents,
                    from_=f.string("from"), chown=f.string("chown"), chmod=f.string("chmod"),
                    link=f.boolean("link"), parents=f.boolean("parents"),
                    excludes=f.strings("exclude"))


def _add(req: _Request) -> ins.Instruction:
    sources, dest, contents = _sources(req)
    f = req.flags
    return ins.Add(**req.base, sources=sources, dest=dest, contents=contents,
                   chown=f.string("chown"), chmod=f.string("chmod"), link=f.boolean("link"),
                   checksum=f.string("checksum"), keep_git_dir=f.boolean("keep-git-dir"),
                   excludes=f.strings("exclude"))


def _pairs(req: _Request) -> tuple[ins.KeyValue, ...]:
    """ENV/LABEL: ``KEY value words`` (old form) or ``k=v k2="a b"`` (parseNameVal)."""
    words = parse_words(req.rest, req.src.escape)
    if not words:
        raise ValueError(f"{req.keyword} requires at least one argument")
    if "=" not in words[0]:
        parts = WHITESPACE.split(req.rest, maxsplit=1)
        if len(parts) < 2:
            raise ValueError(f"{req.keyword} must have two arguments")
        pairs = [(parts[0], parts[1])]
    else:
        pairs = []
        for word in words:
            key, eq, value = word.partition("=")
            if not eq:
                raise ValueError(f"Syntax error - can't find = in {go_quote(word)}."
                                 " Must be of the form: name=value")
            pairs.append((key, value))
    if any(not key for key, _ in pairs):
        raise ValueError(f"{req.keyword} names can not be blank")
    req.parse_flags()
    return tuple(ins.KeyValue(key=k, value=v) for k, v in pairs)


def _env(req: _Request) -> ins.Instruction:
    return ins.Env(**req.base, pairs=_pairs(req))


def _label(req: _Request) -> ins.Instruction:
    return ins.Label(**req.base, pairs=_pairs(req))


def _arg(req: _Request) -> ins.Instruction:
    decls: list[ins.ArgDecl] = []
    for word in parse_words(req.rest, req.src.escape):
        name, eq, value = word.partition("=")
        if eq and not name:
            raise ValueError("ARG names can not be blank")
        decls.append(ins.ArgDecl(name=name, default=value if eq else None))
    if not decls:
        raise ValueError("ARG requires at least one argument")
    req.parse_flags()
    return ins.Arg(**req.base, args=tuple(decls))


def _maintainer(req: _Request) -> ins.Instruction:
    return ins.Maintainer(**req.base, name=_one(req))


def _workdir(req: _Request) -> ins.Instruction:
    return ins.Workdir(**req.base, path=_one(req))


def _user(req: _Request) -> ins.Instruction:
    return ins.User(**req.base, user=_one(req))


def _stopsignal(req: _Request) -> ins.Instruction:
    return ins.StopSignal(**req.base, signal=_one(req))


def _expose(req: _Request) -> ins.Instruction:
    ports = _split(req.rest)
    if not ports:
        raise ValueError("EXPOSE requires at least one argument")
    req.parse_flags()
    return ins.Expose(**req.base, ports=tuple(sorted(ports)))


def _volume(req: _Request) -> ins.Instruction:
    paths, _ = _json_or_words(req.rest)
    if not paths:
        raise ValueError("VOLUME requires at least one argument")
    req.parse_flags()
    if any(not path.strip() for path in paths):
        raise ValueError("VOLUME specified can not be an empty string")
    return ins.Volume(**req.base, paths=tuple(path.strip() for path in paths))


def _onbuild(req: _Request) -> ins.Instruction:
    if not req.rest:
        raise ValueError("ONBUILD requires at least one argument")
    req.parse_flags()
    trigger_keyword = split_command(req.rest)[0].upper()
    if trigger_keyword == "ONBUILD":
        raise ValueError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger_keyword in ("MAINTAINER", "FROM"):
        raise ValueError(f"{trigger_keyword} isn't allowed as an ONBUILD trigger")
    expression = re.sub(r"(?i)^\s*ONBUILD\s*", "", req.src.text)
    for doc in req.src.heredocs:
        expression += "\n" + doc.content + doc.name
    try:
        trigger: ins.Instruction | None = parse_instruction(
            LogicalLine(text=req.rest, line=req.src.line, end_line=req.src.end_line,
                        escape=req.src.escape, heredocs=req.src.heredocs))
    except ValueError:
        trigger = None
    return ins.Onbuild(**req.base, expression=expression, trigger=trigger)


def _healthcheck(req: _Request) -> ins.Instruction:
    parts = req.rest.split(maxsplit=1)
    kind = parts[0] if parts else ""
    rest = parts[1] if len(parts) > 1 else ""
    args, is_json = _maybe_json(rest.strip())
    if kind.upper() != "NONE":  # docker ignores flags on HEALTHCHECK NONE
        req.parse_flags()
    return health_config(req.base, req.flags, kind, args, is_json)


_Parser = Callable[[_Request], ins.Instruction]
_HEALTH_FLAGS = {"interval": S, "timeout": S, "start-period": S, "start-interval": S,
                 "retries": S}
_PARSERS: dict[str, tuple[dict[str, FlagType], _Parser]] = {
    "ADD": ({"chown": S, "chmod": S, "link": B, "checksum": S, "keep-git-dir": B,
             "exclude": M}, _add),
    "ARG": ({}, _arg),
    "CMD": ({}, _cmd),
    "COPY": ({"from": S, "chown": S, "chmod": S, "link": B, "parents": B, "exclude": M},
             _copy),
    "ENTRYPOINT": ({}, _entrypoint),
    "ENV": ({}, _env),
    "EXPOSE": ({}, _expose),
    "FROM": ({"platform": S}, _from),
    "HEALTHCHECK": (_HEALTH_FLAGS, _healthcheck),
    "LABEL": ({}, _label),
    "MAINTAINER": ({}, _maintainer),
    "ONBUILD": ({}, _onbuild),
    "RUN": ({"mount": M, "network": S, "security": S, "device": M}, _run),
    "SHELL": ({}, _shell),
    "STOPSIGNAL": ({}, _stopsignal),
    "USER": ({}, _user),
    "VOLUME": ({}, _volume),
    "WORKDIR": ({}, _workdir),
}
