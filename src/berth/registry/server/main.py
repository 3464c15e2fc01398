"""``berth-registry``: serve a registry, or garbage-collect one offline.

::

    berth-registry serve --root DIR [--addr 127.0.0.1:5000] [--htpasswd FILE]
                         [--tls-cert FILE --tls-key FILE] [--delete-tags]
    berth-registry garbage-collect --root DIR [--dry-run]
"""

from __future__ import annotations

import argparse
import logging
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from berth.errors import BerthError
from berth.registry.server.app import create_app
from berth.registry.server.gc import garbage_collect
from berth.registry.server.options import RegistryOptions
from berth.registry.server.storage.filesystem import FilesystemDriver

log = logging.getLogger(__name__)


def parse_addr(addr: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {addr!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="berth-registry",
                                     description="An OCI distribution registry.")
    parser.add_argument("--log-level", default="info",
                        choices=["debug", "info", "warning", "error"])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the registry API")
    serve.add_argument("--addr", type=parse_addr, default=("127.0.0.1", 5000),
                       help="HOST:PORT to listen on (default 127.0.0.1:5000)")
    serve.add_argument("--root", type=Path, required=True, help="storage root directory")
    serve.add_argument("--htpasswd", type=Path, help="bcrypt htpasswd file: require basic auth")
    serve.add_argument("--realm", default="berth-registry", help="basic auth realm")
    serve.add_argument("--tls-cert", type=Path, help="PEM certificate: serve HTTPS")
    serve.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    serve.add_argument("--delete-tags", action="store_true",
                       help="allow DELETE /v2/<name>/manifests/<tag>")
    gc = commands.add_parser("garbage-collect", help="delete blobs no manifest references")
    gc.add_argument("--root", type=Path, required=True, help="storage root directory")
    gc.add_argument("--dry-run", action="store_true", help="report, delete nothing")
    return parser


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def serve(args: argparse.Namespace) -> int:
    if (args.tls_cert is None) != (args.tls_key is None):
        raise BerthError("--tls-cert and --tls-key go together")
    context = tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    options = RegistryOptions(realm=args.realm, htpasswd=args.htpasswd,
                              tag_delete_enabled=args.delete_tags)
    app = create_app(FilesystemDriver(args.root), options)
    host, port = args.addr
    log.info("serving %s on %s://%s:%d", args.root, "https" if context else "http", host, port)
    web.run_app(app, host=host, port=port, ssl_context=context, print=None,
                access_log=logging.getLogger("berth.registry.server.access"))
    return 0


def collect_garbage(args: argparse.Namespace) -> int:
    report = garbage_collect(args.root, dry_run=args.dry_run)
    verb = "would delete" if report.dry_run else "deleted"
    lines = [f"{verb} blob {d}" for d in report.deleted_blobs]
    lines += [f"{verb} link {link}" for link in report.deleted_links]
    lines.append(f"{len(report.marked)} blobs marked, {len(report.deleted_blobs)} blobs "
                 f"{verb}, {report.freed_bytes} bytes")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "serve":
            return serve(args)
        return collect_garbage(args)
    except (BerthError, OSError, ssl.SSLError) as err:
        sys.stderr.write(f"berth-registry: {err}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
