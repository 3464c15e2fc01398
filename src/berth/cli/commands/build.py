"""``berth build [OPTIONS] PATH | -``: send a build context to ``POST /build`` and show
the classic builder's output.

The context directory is walked and tarred as it is sent (:mod:`berth.cli.buildcontext`),
``.dockerignore`` applied during the walk. ``-`` sends stdin: a tar (plain or compressed)
as it is, or, if stdin is not an archive, a Dockerfile with an empty context. As the
docker CLI does, ``-f`` is relative to the current directory; a Dockerfile outside the
context (or ``-f -``) is added to the context under a generated name.

Output: ``stream`` text as is; an error goes to stderr and the exit status is its code
(1 if none, e.g. a RUN that exits 3 makes ``berth build`` exit 3, as docker's CLI does).
With ``-q`` only the image ID is printed (the held output goes to stderr on failure).
"""

from __future__ import annotations

import os
import sys

from berth.cli.command import Command, StatusError
from berth.cli.flags import Flag
from berth.errors import Conflict
from berth.formats.contextsync import BASE_GONE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from typing import IO

    from berth.cli.buildcontext import Member
    from berth.cli.command import Context
    from berth.cli.flags import Options
    from berth.client.models import Progress
    from berth.formats.dockerignore import DockerIgnore

COMMAND = Command(
    "build", "[OPTIONS] PATH | -", "Build an image from a Dockerfile",
    (Flag("build-arg", kind="list", help="Set build-time variables"),
     Flag("file", "f", "str", "", "Name of the Dockerfile (Default is \"PATH/Dockerfile\")"),
     Flag("force-rm", kind="bool", help="Always remove intermediate containers"),
     Flag("iidfile", kind="str", default="", help="Write the image ID to the file"),
     Flag("label", kind="list", help="Set metadata for an image"),
     Flag("network", kind="str", default="", help="Set the networking mode for the RUN "
          "instructions during build"),
     Flag("no-cache", kind="bool", help="Do not use cache when building the image"),
     Flag("pull", kind="bool", help="Always attempt to pull a newer version of the image"),
     Flag("quiet", "q", "bool", help="Suppress the build output and print image ID on "
          "success"),
     Flag("rm", kind="bool", default=True, help="Remove intermediate containers after a "
          "successful build"),
     Flag("secret", kind="list", help="Secret to expose to the build (format: "
          "\"id=mysecret[,src=/local/secret]\")"),
     Flag("tag", "t", "list", help="Name and optionally a tag in the \"name:tag\" format"),
     Flag("target", kind="str", default="", help="Set the target build stage to build.")),
    min_args=1, max_args=1, aliases=("image build", "build"))

_BUFFER = 256 * 1024
_ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


def run(ctx: Context, opts: Options, args: list[str]) -> int:
    from berth.client.build import BuildOptions, build

    labels = tuple(_pair(v) for v in opts.label)
    args_ = tuple(build_args(opts.build_arg, ctx.env))
    secrets = tuple(secret(value, ctx.env) for value in opts.secret)
    if opts.iidfile:
        try:
            os.remove(opts.iidfile)
        except FileNotFoundError:
            pass
        except OSError as err:
            raise StatusError(1, f"Removing image ID file: {err.strerror}") from err
    context = _context(ctx, args[0], opts.file)
    build_opts = BuildOptions(
        tags=tuple(opts.tag), dockerfile=context.dockerfile, build_args=args_,
        target=opts.target, no_cache=opts.no_cache, pull=opts.pull, labels=labels,
        quiet=opts.quiet, network=opts.network, remove=opts.rm, force_remove=opts.force_rm,
        secrets=secrets)
    counted = _Counter(context.body(ctx, incremental=True))
    try:
        messages = build(ctx.client.api, counted, build_opts)
        first = next(messages, None)
    except Conflict as err:
        if err.message != BASE_GONE:
            raise
        counted = _Counter(context.body(ctx, incremental=False))  # the daemon dropped it
        messages = build(ctx.client.api, counted, build_opts)
        first = next(messages, None)
    if not opts.quiet:
        from berth.cli.output import human_size

        ctx.out(f"Sending build context to Berth daemon  {human_size(counted.sent, 4)}")
    image_id = show(ctx, _chain(first, messages), opts.quiet)
    if opts.iidfile:
        if not image_id:
            raise StatusError(1, f"Server did not provide an image ID. Cannot write "
                                 f"{opts.iidfile}")
        try:
            with open(opts.iidfile, "w") as f:
                f.write(image_id)
        except OSError as err:
            raise StatusError(1, f"Cannot write {opts.iidfile}: {err.strerror}") from err
    return 0


def _chain(first: Progress | None, rest: Iterator[Progress]) -> Iterator[Progress]:
    if first is not None:
        yield first
        yield from rest


def show(ctx: Context, messages: Iterable[Progress], quiet: bool) -> str:
    """Render the stream as docker's classic output; returns the image ID."""
    image_id = ""
    held: list[str] = []
    for msg in messages:
        if msg.error:
            if quiet:
                ctx.stderr.write("".join(held))
            raise StatusError(msg.code or 1, msg.error)
        if msg.aux_id:
            image_id = msg.aux_id
        text = msg.stream
        if not text and (msg.status or msg.progress):
            text = " ".join(x for x in (msg.status, msg.progress) if x)
            text = f"{msg.id}: {text}\n" if msg.id else text + "\n"
        if not text:
            continue
        if quiet:
            held.append(text)
            if text.strip().startswith("sha256:"):
                image_id = text.strip()
            continue
        ctx.stdout.write(text)
        ctx.stdout.flush()
    if quiet:
        ctx.stdout.write(image_id + "\n" if image_id else "".join(held))
    return image_id


class _Counter:
    """The body, counting what was sent (for "Sending build context ...")."""

    def __init__(self, body: Iterable[bytes]) -> None:
        self._body = body
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            self.sent += len(chunk)
            yield chunk


def build_args(values: Iterable[str], env: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """``K=V`` as given; ``K`` alone takes K from the environment, or stays unset (docker's
    ``ValidateEnv`` + ``ConvertKVStringsToMapWithNil``)."""
    out: list[tuple[str, str | None]] = []
    for value in values:
        key, sep, val = value.partition("=")
        if not key:
            raise StatusError(125, f"invalid argument \"{value}\" for \"--build-arg\" flag: "
                                   "invalid environment variable: " + value)
        out.append((key, val) if sep else (key, env.get(key)))
    return out


def _pair(value: str) -> tuple[str, str]:
    key, _, val = value.partition("=")
    return key, val


_MAX_SECRET = 500 * 1024  # buildkit's limit


def secret(value: str, env: Mapping[str, str]) -> tuple[str, bytes]:
    """``id=x[,src=file|,env=VAR][,type=file|env]`` -> (id, content), read here: the
    secret travels in the request body, never as a path (buildx's ``parseSecret`` and
    buildkit's secrets provider: with neither src nor env, the variable named like the
    id if set, else the file named like it)."""
    fields: dict[str, str] = {}
    kind = ""
    for part in value.split(","):
        key, sep, val = part.partition("=")
        key = key.strip().lower()
        if not sep:
            raise StatusError(125, f"invalid field '{part}' must be a key=value pair")
        if key == "type":
            if val not in ("file", "env"):
                raise StatusError(125, f"unsupported secret type \"{val}\"")
            kind = val
        elif key in ("id", "env"):
            fields[key] = val
        elif key in ("src", "source"):
            fields["src"] = val
        else:
            raise StatusError(125, f"unexpected key '{key}' in '{part}'")
    if kind == "env" and not fields.get("env"):
        fields["env"] = fields.pop("src", "")
    ident, src, var = fields.get("id", ""), fields.get("src", ""), fields.get("env", "")
    if not ident:
        ident = os.path.basename(src) if src else var
    if not ident:
        raise StatusError(125, f"invalid secret \"{value}\": the id is required")
    if "/" in ident or len(ident.encode()) > 100:
        raise StatusError(125, f"invalid secret id \"{ident}\": at most 100 bytes, no \"/\"")
    if src and var:
        raise StatusError(125, "can't set both source and env")
    if not src and not var:
        var, src = (ident, "") if ident in env else ("", ident)
    if var:
        if var not in env:
            raise StatusError(1, f"secret {ident}: env {var} not set")  # buildkit's wording
        data = env[var].encode()
    else:
        path = os.path.abspath(os.path.expanduser(src))
        try:
            with open(path, "rb") as f:
                data = f.read(_MAX_SECRET + 1)
        except OSError as err:
            raise StatusError(1, f"failed to read secret {ident}: open {path}: "
                                 f"{(err.strerror or str(err)).lower()}") from err
    if len(data) > _MAX_SECRET:
        raise StatusError(1, f"invalid secret size {len(data)} of secret {ident} (max "
                             f"{_MAX_SECRET})")
    return ident, data


# -- the context ---------------------------------------------------------------------


class _Context:
    """What ``berth build`` sends: a directory walked (``context_dir``, with ``head``
    generated files and ``ignore``), or ``stream`` (stdin) as it is."""

    def __init__(self, dockerfile: str, stream: Iterable[bytes] = (), context_dir: str = "",
                 head: list[tuple[str, bytes]] | None = None,
                 ignore: DockerIgnore | None = None) -> None:
        self.dockerfile = dockerfile
        self.stream = stream
        self.context_dir = context_dir
        self.head = head or []
        self.ignore = ignore

    def body(self, ctx: Context, incremental: bool) -> Iterable[bytes]:
        """The request body. ``incremental``: ask the daemon which files it kept from the
        last build of this directory and leave those out (Berth's extension, see
        ``engine/builder/contextcache.py``); the file list goes first, as the
        ``.berth-context`` entry."""
        if not self.context_dir:
            return self.stream
        from berth.cli import buildcontext

        walked: list[buildcontext.Member] | None = None
        preamble, leave_out = b"", frozenset[str]()
        if incremental:
            try:
                walked = list(buildcontext.members(self.context_dir, self.ignore, self.head))
            except buildcontext.ContextError as err:
                raise StatusError(1, str(err)) from err
            preamble, leave_out = _reuse(ctx, self.context_dir, walked)
        tar = buildcontext.tar_stream(self.context_dir, self.ignore, self.head, walked,
                                      leave_out)
        return _coalesce(_guard(_prepend(preamble, tar)))


def _reuse(ctx: Context, context_dir: str, walked: list[Member]
           ) -> tuple[bytes, frozenset[str]]:
    """The ``.berth-context`` entry and the paths it leaves out of the tar."""
    import json

    from berth.cli.buildcontext import file_entry, reusable_files
    from berth.client.build import reusable
    from berth.formats.contextsync import MANIFEST_ENTRY

    files = reusable_files(walked)
    key = f"{os.uname().nodename}:{context_dir}"
    base, indices = reusable(ctx.client.api, key, files)
    reuse = set(indices)
    doc = {"key": key, "base": base,
           "files": [[*f, i in reuse] for i, f in enumerate(files)]}
    entry = file_entry(MANIFEST_ENTRY, json.dumps(doc).encode(), 0o600)
    return entry, frozenset(files[i][0] for i in reuse)


def _context(ctx: Context, source: str, dockerfile: str) -> _Context:
    """What to send and the ``dockerfile`` parameter."""
    if source == "-":
        if dockerfile == "-":
            raise StatusError(1, "invalid argument: can't use stdin for both build context "
                                 "and dockerfile")
        stream, rel = _stdin_context(sys.stdin.buffer, dockerfile)
        return _Context(rel, stream)
    if source.startswith(("http://", "https://", "git@", "git://", "github.com/")):
        raise StatusError(1, f"unable to prepare context: remote contexts are not "
                             f"supported yet: {source}")
    from berth.cli import buildcontext

    context_dir = _context_dir(source)
    rel, outside = _dockerfile(context_dir, dockerfile)
    try:
        ignore_bytes = buildcontext.read_dockerignore(context_dir)
    except buildcontext.ContextError as err:
        raise StatusError(1, str(err)) from err
    head: list[tuple[str, bytes]] = []
    if outside is not None:
        # as docker's AddDockerfileToBuildContext: the daemon removes what .dockerignore
        # lists once it has read the Dockerfile, so neither reaches ``COPY .``
        rel = ".dockerfile." + os.urandom(10).hex()
        text = b".dockerignore" if ignore_bytes is None else ignore_bytes
        ignore_bytes = text + b"\n" + rel.encode() + b"\n"
        head = [(buildcontext.DOCKERIGNORE, ignore_bytes), (rel, outside)]
    return _Context(rel, (), context_dir, head, _ignore(ignore_bytes, rel))


def _ignore(content: bytes | None, dockerfile: str) -> DockerIgnore | None:
    if content is None:
        return None
    from berth.errors import InvalidArgument
    from berth.formats.dockerignore import DockerIgnore

    try:
        return DockerIgnore.parse(content).for_build(dockerfile)
    except InvalidArgument as err:
        raise StatusError(1, f"error checking context: {err}") from err


def _context_dir(source: str) -> str:
    path = os.path.abspath(source)
    if not os.path.exists(path):
        raise StatusError(1, f"unable to prepare context: path \"{source}\" not found")
    if not os.path.isdir(path):
        raise StatusError(1, f"unable to prepare context: context must be a directory: "
                             f"{path}")
    return os.path.realpath(path)


def _dockerfile(context_dir: str, name: str) -> tuple[str, bytes | None]:
    """(the Dockerfile's path in the context, its bytes if it must be added)."""
    if name == "-":
        return "", sys.stdin.buffer.read()
    if not name:
        path = os.path.join(context_dir, "Dockerfile")
        if not os.path.lexists(path) and os.path.lexists(os.path.join(context_dir,
                                                                      "dockerfile")):
            path = os.path.join(context_dir, "dockerfile")
    else:
        path = os.path.abspath(name)
    try:
        real = os.path.realpath(path, strict=True)
    except OSError as err:
        raise StatusError(1, f"unable to prepare context: unable to evaluate symlinks in "
                             f"Dockerfile path: lstat {path}: "
                             f"{(err.strerror or str(err)).lower()}") from err
    rel = os.path.relpath(real, context_dir)
    if rel == ".." or rel.startswith("../"):
        try:
            with open(real, "rb") as f:
                return "", f.read()
        except OSError as err:
            raise StatusError(1, f"unable to prepare context: {err.strerror}: {real}"
                              ) from err
    if not os.path.isfile(real):
        raise StatusError(1, f"unable to prepare context: Cannot locate specified "
                             f"Dockerfile: {rel}")
    return rel, None


def _stdin_context(stdin: IO[bytes], dockerfile: str) -> tuple[Iterable[bytes], str]:
    """A tar on stdin is sent as is; anything else is a Dockerfile (docker's
    ``DetectArchiveReader``)."""
    head = b""
    while len(head) < 512:
        chunk = stdin.read(512 - len(head))
        if not chunk:
            break
        head += chunk
    if _is_archive(head):
        return _coalesce(_prepend(head, iter(lambda: stdin.read(_BUFFER), b""))), dockerfile
    from berth.cli.buildcontext import BLOCK, file_entry

    data = head + stdin.read()
    return [file_entry("Dockerfile", data) + b"\0" * (2 * BLOCK)], "Dockerfile"


def _is_archive(head: bytes) -> bool:
    if head.startswith(_ARCHIVE_MAGIC):
        return True
    if len(head) < 512:
        return False
    import tarfile

    try:
        tarfile.TarInfo.frombuf(head, "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def _prepend(head: bytes, rest: Iterable[bytes]) -> Iterator[bytes]:
    if head:
        yield head
    yield from rest


def _guard(stream: Iterator[bytes]) -> Iterator[bytes]:
    """Context errors as exit statuses: never an OSError inside the transport's send."""
    from berth.cli.buildcontext import ContextError

    try:
        yield from stream
    except ContextError as err:
        raise StatusError(1, str(err)) from err


def _coalesce(stream: Iterable[bytes]) -> Iterator[bytes]:
    """Tar headers and blocks gathered into chunks of about ``_BUFFER`` bytes."""
    parts: list[bytes] = []
    size = 0
    for piece in stream:
        parts.append(piece)
        size += len(piece)
        if size >= _BUFFER:
            yield b"".join(parts)
            parts, size = [], 0
    if parts:
        yield b"".join(parts)
