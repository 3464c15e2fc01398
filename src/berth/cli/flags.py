"""Command-line flags parsed the way docker's (spf13/pflag) are, with its messages.

``-d``, ``--detach``, ``-dit`` (grouped shorthands), ``-e K=V``/``-eK=V``/``--env=K=V``,
``--`` ending flags, and, for commands that are not interspersed (``run``, ``create``),
parsing stops at the first positional argument: everything after the image is the command.
A bad flag raises ``UsageError`` (exit 125, as docker's ``FlagErrorFunc``); a wrong number of
arguments raises ``ArgCountError`` (exit 1).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, Final

    Converter = Callable[[str], Any]


class UsageError(Exception):
    """A flag error: docker prints it, the usage line, and exits 125."""

    exit_code = 125


class ArgCountError(UsageError):
    """Too few or too many positional arguments: docker exits 1 for these. ``hint`` is the
    word docker's validator puts before "'CMD --help' for more information": "See" for
    ``RequiresMinArgs``, "Run" for the others, and ``RequiresMaxArgs``' "SRun" (docker
    28's typo, kept so the text is docker's)."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "See") -> None:
        super().__init__(message)
        self.hint = hint


class Flag:
    """One flag. ``kind`` is ``bool``, ``str``, ``int``, ``list`` (repeatable) or ``value``
    (``convert`` turns the text into the value, raising ``ValueError`` with the reason).
    A plain class, not a dataclass: ``dataclasses`` costs milliseconds at every start."""

    __slots__ = ("_dest", "convert", "default", "help", "hidden", "kind", "long", "metavar",
                 "short")
    long: Final[str]
    short: Final[str]
    kind: Final[str]
    default: Final[Any]
    help: Final[str]
    convert: Final[Converter | None]
    metavar: Final[str]
    hidden: Final[bool]

    def __init__(self, long: str, short: str = "", kind: str = "str", default: Any = None,
                 help: str = "", convert: Converter | None = None, metavar: str = "",
                 dest: str = "", hidden: bool = False) -> None:
        self.long = long
        self.short = short
        self.kind = kind
        self.default = default
        self.help = help
        self.convert = convert
        self.metavar = metavar
        self._dest = dest  # another flag's name: both fill one value (--net, --network)
        self.hidden = hidden  # accepted, not listed in help (docker's MarkHidden)

    def __repr__(self) -> str:
        return f"Flag({self.long!r}, {self.short!r}, {self.kind!r})"

    @property
    def dest(self) -> str:
        return (self._dest or self.long).replace("-", "_")

    @property
    def label(self) -> str:
        """How pflag names the flag in errors: ``-m, --memory`` or ``--cpus``."""
        return f"-{self.short}, --{self.long}" if self.short else f"--{self.long}"

    def initial(self) -> Any:
        if self.kind == "list":
            return list(self.default or ())
        if self.kind == "bool":
            return bool(self.default)
        return self.default


class Options:
    """Parsed flag values as attributes (``opts.detach``); ``given`` holds the names set."""

    def __init__(self, flags: Sequence[Flag]) -> None:
        self.given: set[str] = set()
        for flag in flags:
            setattr(self, flag.dest, flag.initial())

    if TYPE_CHECKING:  # values are set per flag, as on argparse.Namespace
        def __getattr__(self, name: str) -> Any: ...


class FlagSet:
    __slots__ = ("flags", "interspersed")
    flags: Final[tuple[Flag, ...]]
    interspersed: Final[bool]

    def __init__(self, flags: tuple[Flag, ...], interspersed: bool = True) -> None:
        self.flags = flags
        self.interspersed = interspersed

    def _find_long(self, name: str) -> Flag:
        for flag in self.flags:
            if flag.long == name:
                return flag
        raise UsageError(f"unknown flag: --{name}")

    def _find_short(self, char: str, arg: str) -> Flag:
        for flag in self.flags:
            if flag.short == char:
                return flag
        raise UsageError(f"unknown shorthand flag: {char!r} in {arg}")

    def parse(self, argv: Sequence[str]) -> tuple[Options, list[str]]:
        opts = Options(self.flags)
        args: list[str] = []
        i = 0
        while i < len(argv):
            arg = argv[i]
            i += 1
            if arg == "--":
                args.extend(argv[i:])
                break
            if not arg.startswith("-") or arg == "-":
                args.append(arg)
                if not self.interspersed:
                    args.extend(argv[i:])
                    break
                continue
            if arg.startswith("--"):
                i = self._parse_long(opts, arg[2:], argv, i)
            else:
                i = self._parse_shorts(opts, arg, argv, i)
        return opts, args

    def _parse_long(self, opts: Options, body: str, argv: Sequence[str], i: int) -> int:
        name, eq, value = body.partition("=")
        if name == "help":
            raise HelpRequested
        flag = self._find_long(name)
        if eq:
            _set(opts, flag, value)
        elif flag.kind == "bool":
            _set(opts, flag, "true")
        elif i < len(argv):
            _set(opts, flag, argv[i])
            i += 1
        else:
            raise UsageError(f"flag needs an argument: --{name}")
        return i

    def _parse_shorts(self, opts: Options, arg: str, argv: Sequence[str], i: int) -> int:
        rest = arg[1:]
        while rest:
            char, rest = rest[0], rest[1:]
            if char == "h" and not any(f.short == "h" for f in self.flags):
                raise HelpRequested
            flag = self._find_short(char, arg)
            if flag.kind == "bool":
                if rest.startswith("="):
                    _set(opts, flag, rest[1:])
                    return i
                _set(opts, flag, "true")
                continue
            if rest:
                _set(opts, flag, rest[1:] if rest.startswith("=") else rest)
            elif i < len(argv):
                _set(opts, flag, argv[i])
                i += 1
            else:
                raise UsageError(f"flag needs an argument: {char!r} in -{char}")
            return i
        return i


class HelpRequested(Exception):
    """``-h``/``--help`` was given: print the command's help and exit 0."""


_TRUE = {"1", "t", "T", "true", "TRUE", "True"}
_FALSE = {"0", "f", "F", "false", "FALSE", "False"}


def _set(opts: Options, flag: Flag, text: str) -> None:
    try:
        value = _convert(flag, text)
    except ValueError as err:
        raise UsageError(f'invalid argument {go_quote(text)} for "{flag.label}" flag: {err}'
                         ) from err
    if flag.kind == "list":
        getattr(opts, flag.dest).append(value)
    else:
        setattr(opts, flag.dest, value)
    opts.given.add(flag.dest)


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
               "\t": "\\t", "\v": "\\v", '"': '\\"', "\\": "\\\\"}


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote`` (pflag's ``%q`` of a bad value): quotes and backslashes
    escaped, control characters as Go writes them, printable text as it is."""
    out = []
    for char in text:
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) > 0xFFFF:
            out.append(f"\\U{ord(char):08x}")
        else:
            out.append(f"\\u{ord(char):04x}")
    return '"' + "".join(out) + '"'


def _convert(flag: Flag, text: str) -> Any:
    if flag.kind == "bool":
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f'strconv.ParseBool: parsing "{text}": invalid syntax')
    if flag.kind == "int":
        return parse_int(text)
    if flag.convert is not None:
        return flag.convert(text)
    return text


def parse_int(text: str) -> int:
    """An integer the way Go's ``strconv.ParseInt`` accepts and reports it."""
    try:
        return int(text, 10)
    except ValueError:
        raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax') from None


def filter_pair(text: str) -> str:
    """A ``--filter`` value: docker's ``opts.FilterOpt`` wants ``name=value``."""
    if "=" not in text:
        raise ValueError("bad format of filter (expected name=value)")
    return text


def help_lines(flags: Sequence[Flag]) -> list[str]:
    """The ``Options:`` section of a command's help, aligned as cobra prints it."""
    flags = [flag for flag in flags if not flag.hidden]
    left: list[str] = []
    for flag in flags:
        head = f"-{flag.short}, --{flag.long}" if flag.short else f"    --{flag.long}"
        if flag.kind != "bool":
            head += f" {flag.metavar or _metavar(flag)}"
        left.append(head)
    width = max((len(x) for x in left), default=0)
    lines = []
    for head, flag in zip(left, flags, strict=True):
        default = ""
        if flag.kind not in ("bool", "list") and flag.default not in (None, ""):
            default = f' (default {flag.default!r})'.replace("'", '"')
        lines.append(f"  {head.ljust(width)}   {flag.help}{default}")
    return lines


def _metavar(flag: Flag) -> str:
    return {"int": "int", "list": "list"}.get(flag.kind, "string")
