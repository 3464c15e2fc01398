"""The ``created_by`` text of each build step, exactly as docker's classic builder
writes it into the image history (and compares it for the cache)::

    /bin/sh -c #(nop)  ENV A=b                       metadata: shell, "#(nop) ", text
    /bin/sh -c #(nop) COPY file:<sha256> in /app     COPY/ADD/WORKDIR: one space
    /bin/sh -c apt-get update                        RUN, shell form
    |1 V=2 /bin/sh -c make                           RUN with build args in its env
    --mount=type=cache,target=/c /bin/sh -c make     RUN --mount (never a secret's value)
    ["/bin/sh" "-c" "echo hi"]                       Go's %q of a []string (CMD text)

The shell is the stage's SHELL at that point.
"""

from __future__ import annotations

from collections.abc import Sequence

from berth.formats.goformat import go_quote

NOP = "#(nop) "


def nop(shell: Sequence[str], text: str) -> str:
    """A metadata step (``withCmdComment``: "#(nop) " and the text are separate words)."""
    return " ".join([*shell, NOP, text])


def nop_string(shell: Sequence[str], text: str) -> str:
    """A COPY/ADD/WORKDIR step (``withCmdCommentString``: "#(nop) " and text one word)."""
    return " ".join([*shell, NOP + text])


def copy(shell: Sequence[str], keyword: str, kind: str, checksum: str, dest: str) -> str:
    """``COPY file:<hex> in /dst `` (``kind``: file, dir or multi; trailing space kept)."""
    digest = checksum.partition(":")[2] or checksum
    return nop_string(shell, f"{keyword} {kind}:{digest} in {dest} ")


def run(argv: Sequence[str], build_env: Sequence[str] | None,
        mounts: Sequence[str] = ()) -> str:
    """A RUN step; ``build_env`` (sorted ``K=V``) is recorded when any build arg applies,
    then its ``--mount=`` flags (as :func:`.mounts.describe` writes them)."""
    words = [f"--mount={m}" for m in mounts] + list(argv)
    if build_env is not None:
        words = [f"|{len(build_env)}", *build_env, *words]
    return " ".join(words)


def go_list(items: Sequence[str]) -> str:
    """Go's ``%v`` of a []string: ``[a b]``."""
    return "[" + " ".join(items) + "]"


def go_quoted_list(items: Sequence[str]) -> str:
    """Go's ``%q`` of a []string: ``["a" "b"]``."""
    return "[" + " ".join(go_quote(i) for i in items) + "]"


_MINUTE = 60_000_000_000
_HOUR = 60 * _MINUTE


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String``: ``0s``, ``1m30s``, ``1h0m0s``, ``500ms``, ``1.5s``."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _fraction(ns, size) + unit
    hours, rest = divmod(ns, _HOUR)
    minutes, rest = divmod(rest, _MINUTE)
    out = f"{hours}h" if hours else ""
    if hours or minutes:
        out += f"{minutes}m"
    return sign + out + _fraction(rest, 1_000_000_000) + "s"


def _fraction(value: int, size: int) -> str:
    whole, rest = divmod(value, size)
    if not rest:
        return str(whole)
    digits = len(str(size)) - 1
    return f"{whole}.{rest:0{digits}d}".rstrip("0")


def healthcheck(test: Sequence[str], durations: Sequence[int], retries: int) -> str:
    """``HEALTHCHECK %q`` of docker's ``*HealthConfig``: ``&{["CMD" "x"] "5s" ... '\\x03'}``."""
    fields = " ".join(go_quote(go_duration(d)) for d in durations)
    return f"HEALTHCHECK &{{{go_quoted_list(test)} {fields} '\\x{retries:02x}'}}"
