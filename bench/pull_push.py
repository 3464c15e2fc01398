#!/usr/bin/env python3
"""Pull and push of a ~200 MB, 4-layer image through local registries: berthd against a
private dockerd (same registry, same image, same run), next to this machine's raw sha256
and gunzip throughput; and the registry servers themselves (``berth registry`` against the
CNCF distribution registry) serving the same blobs.

Everything runs privately under ``/tmp/bb-<tag>`` (see run_bench.py for why it is short)::

    img/                 the generated image: 4 gzip layers, config, manifest
    b*/, berth.sock      berthd (data bd/, exec be/)
    d*/, docker.sock     dockerd (data dd/, exec de/) and its containerd
    reg-*/               registry roots (berth registry and distribution), one per use

Cases, each timed from the API request to the end of the daemon's progress stream:

- pull: ``POST /images/create?fromImage=127.0.0.1:<port>/bench/big&tag=1`` after removing
  the image (and with it its layers) from the daemon, from each registry.
- push: the pulled image tagged into an empty distribution registry (a fresh root each
  round, so nothing can be skipped or mounted), ``POST /images/<name>/push``.
- serve: N concurrent ``curl`` clients each GET every blob of the image from one registry.

MB/s is always the image's compressed size (what crosses the wire) over the median time.
Rounds alternate which side goes first. Not part of the test suite: see README.md.
"""

from __future__ import annotations

import argparse
import base64
import functools
import gzip
import hashlib
import http.client
import io
import json
import platform
import random
import shutil
import subprocess
import sys
import tarfile
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemons import VENV_BIN, api, start_daemons
from harness import Stoppers, entry_parser, parse_entry_args, run_privately
from host import BenchError, log, tail
from measure import stats

API = "/v1.41"  # dockerd 20.10's; berthd serves it too
REPO = "bench/big"
MB = 1_000_000


# --- the image ------------------------------------------------------------------------

@dataclass(frozen=True)
class Blob:
    digest: str
    path: Path
    size: int
    media_type: str


@dataclass(frozen=True)
class BenchImage:
    layers: list[Blob]
    config: Blob
    manifest: Blob

    @property
    def blobs(self) -> list[Blob]:
        return [*self.layers, self.config]

    @property
    def wire_bytes(self) -> int:
        return sum(b.size for b in self.blobs) + self.manifest.size


def _layer_payload(rng: random.Random, size: int) -> Iterator[tuple[str, bytes]]:
    """Files of half random, half repetitive text: gzip shrinks them to ~60%, as with
    typical binaries and libraries, so gunzip does real work."""
    words = [rng.randbytes(6).hex() for _ in range(512)]
    made, i = 0, 0
    while made < size:
        n = min(4 * (1 << 20), size - made)
        text = " ".join(rng.choice(words) for _ in range(n // 26)).encode()[: n // 2]
        data = rng.randbytes(n - len(text)) + text
        yield f"usr/lib/bench/file{i:04d}.bin", data
        made += len(data)
        i += 1


def _write_blob(root: Path, data: bytes, media_type: str) -> Blob:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = root / digest.removeprefix("sha256:")
    path.write_bytes(data)
    return Blob(digest, path, len(data), media_type)


def make_image(root: Path, layers: int, layer_mb: int, seed: int = 4) -> BenchImage:
    root.mkdir()
    rng = random.Random(seed)
    blobs, diff_ids = [], []
    for n in range(layers):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
            for name, data in _layer_payload(rng, layer_mb * MB):
                info = tarfile.TarInfo(f"layer{n}/{name}")
                info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
                tf.addfile(info, io.BytesIO(data))
        tar = raw.getvalue()
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        blobs.append(_write_blob(root, gzip.compress(tar, compresslevel=6, mtime=0),
                                 "application/vnd.docker.image.rootfs.diff.tar.gzip"))
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    config = {"architecture": arch, "os": "linux", "created": "2026-01-01T00:00:00Z",
              "config": {"Cmd": ["/bin/sh"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids},
              "history": [{"created": "2026-01-01T00:00:00Z", "created_by": f"layer {i}"}
                          for i in range(layers)]}
    cfg = _write_blob(root, json.dumps(config).encode(),
                      "application/vnd.docker.container.image.v1+json")
    manifest = {"schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": cfg.media_type, "digest": cfg.digest, "size": cfg.size},
                "layers": [{"mediaType": b.media_type, "digest": b.digest, "size": b.size}
                           for b in blobs]}
    man = _write_blob(root, json.dumps(manifest, indent=3).encode(),
                      "application/vnd.docker.distribution.manifest.v2+json")
    return BenchImage(blobs, cfg, man)


# --- registries ---------------------------------------------------------------------

def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_http(url_host: str, proc: subprocess.Popen[bytes], logfile: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"registry exited {proc.returncode}: {tail(logfile)}")
        conn = http.client.HTTPConnection(url_host, timeout=2)
        try:
            conn.request("GET", "/v2/")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.05)
        finally:
            conn.close()
    raise BenchError(f"registry on {url_host} never answered: {tail(logfile)}")


@dataclass
class Registry:
    kind: str  # "berth" or "distribution"
    root: Path
    proc: subprocess.Popen[bytes] | None = None
    host: str = ""

    def start(self) -> None:
        port = free_port()
        self.host = f"127.0.0.1:{port}"
        logfile = self.root.with_suffix(".log")
        self.root.mkdir(parents=True)
        if self.kind == "berth":
            argv = [str(VENV_BIN / "berth-registry"), "serve", "--addr", self.host,
                    "--root", str(self.root)]
        else:
            config = self.root.with_suffix(".yml")
            config.write_text(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                f"storage:\n  filesystem:\n    rootdirectory: {self.root}\n"
                f"http:\n  addr: {self.host}\n")
            argv = ["docker-registry", "serve", str(config)]
        with logfile.open("wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        wait_http(self.host, self.proc, logfile)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def upload(self, image: BenchImage) -> None:
        conn = http.client.HTTPConnection(self.host, timeout=120)
        try:
            for blob in image.blobs:
                conn.request("POST", f"/v2/{REPO}/blobs/uploads/")
                resp = conn.getresponse()
                resp.read()
                location = resp.headers["Location"]
                sep = "&" if "?" in location else "?"
                with blob.path.open("rb") as f:
                    conn.request("PUT", f"{location}{sep}digest={blob.digest}", body=f,
                                 headers={"Content-Length": str(blob.size),
                                          "Content-Type": "application/octet-stream"})
                    resp = conn.getresponse()
                    resp.read()
                if resp.status != 201:
                    raise BenchError(f"upload of {blob.digest} to {self.kind}: {resp.status}")
            conn.request("PUT", f"/v2/{REPO}/manifests/1", body=image.manifest.path.read_bytes(),
                         headers={"Content-Type": image.manifest.media_type})
            resp = conn.getresponse()
            resp.read()
            if resp.status != 201:
                raise BenchError(f"manifest upload to {self.kind}: {resp.status}")
        finally:
            conn.close()


# --- the daemons' side ---------------------------------------------------------------

NO_AUTH = base64.urlsafe_b64encode(b"{}").decode()


def stream(sock: Path, method: str, path: str) -> list[dict[str, Any]]:
    """One streaming Engine API call read to its end; a progress error raises."""
    body = api(sock, method, path, headers={"X-Registry-Auth": NO_AUTH}, timeout=600, raw=True)
    messages = [json.loads(line) for line in body.splitlines() if line.strip()]
    for m in messages:
        if "error" in m or "errorDetail" in m:
            raise BenchError(f"{method} {path}: {m}")
    return messages


@dataclass
class Daemon:
    name: str
    sock: Path

    def remove(self, ref: str) -> None:
        try:
            api(self.sock, "DELETE", f"{API}/images/{ref}?force=1")
        except BenchError as err:
            if " 404 " not in str(err):
                raise

    def clear(self) -> None:
        """No image left, so no layer can be reused by the next pull."""
        for img in api(self.sock, "GET", f"{API}/images/json?all=1"):
            self.remove(img["Id"])

    def pull(self, registry: Registry) -> float:
        ref = f"{registry.host}/{REPO}"
        self.clear()
        start = time.perf_counter()
        stream(self.sock, "POST", f"{API}/images/create?fromImage={ref}&tag=1")
        return time.perf_counter() - start

    def push(self, source: str, target: Registry) -> float:
        repo = f"{target.host}/bench/pushed"
        api(self.sock, "POST", f"{API}/images/{source}/tag?repo={repo}&tag=1")
        start = time.perf_counter()
        stream(self.sock, "POST", f"{API}/images/{repo}/push?tag=1")
        elapsed = time.perf_counter() - start
        self.remove(f"{repo}:1")
        return elapsed


# --- machine limits -------------------------------------------------------------------

def raw_throughput(image: BenchImage) -> dict[str, float]:
    """MB/s of the two things a pull must do to every byte, on this machine, in-process
    (hashlib is OpenSSL's sha256; zlib is what gzip uses)."""
    blobs = [b.path.read_bytes() for b in image.layers]
    total = sum(len(b) for b in blobs)
    start = time.perf_counter()
    for b in blobs:
        hashlib.sha256(b).digest()
    sha = total / (time.perf_counter() - start) / MB
    start = time.perf_counter()
    raw = 0
    for b in blobs:
        raw += len(zlib.decompress(b, 31))
    gunzip = total / (time.perf_counter() - start) / MB
    return {"sha256_MBps": round(sha, 1), "gunzip_MBps_compressed": round(gunzip, 1),
            "uncompressed_MB": round(raw / MB, 1)}


def serve_throughput(registry: Registry, image: BenchImage, clients: int) -> float:
    """Seconds for ``clients`` concurrent curls, each GETting every blob once."""
    urls = [f"http://{registry.host}/v2/{REPO}/blobs/{b.digest}" for b in image.blobs]
    argv = ["curl", "-sf"] + [x for u in urls for x in ("-o", "/dev/null", u)]
    start = time.perf_counter()
    procs = [subprocess.Popen(argv) for _ in range(clients)]
    codes = [p.wait(600) for p in procs]
    elapsed = time.perf_counter() - start
    if any(codes):
        raise BenchError(f"curl from {registry.kind} exited {codes}")
    return elapsed


# --- main -----------------------------------------------------------------------------

def mbps(nbytes: int, seconds: list[float]) -> dict[str, Any]:
    s = stats([x * 1000 for x in seconds])
    return {**s, "MBps": round(nbytes / (s["median_ms"] / 1000) / MB, 1)}


def alternate(rounds: int, sides: list[Daemon], run: Callable[[Daemon], float],
              label: str) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {d.name: [] for d in sides}
    for r in range(rounds):
        order = sides if r % 2 == 0 else sides[::-1]
        for d in order:
            t = run(d)
            samples[d.name].append(t)
            log(f"{label} round {r + 1}: {d.name} {t:.2f}s")
    return samples


def benchmark(work: Path, args: argparse.Namespace, sides: list[Daemon],
              stoppers: list[Callable[[], None]]) -> dict[str, Any]:
    log(f"making a {args.layers}-layer image of {args.layer_mb} MB per layer (uncompressed)")
    image = make_image(work / "img", args.layers, args.layer_mb)
    wire = image.wire_bytes
    log(f"image: {wire / MB:.1f} MB compressed")
    result: dict[str, Any] = {"image_MB_compressed": round(wire / MB, 1),
                              "limits": raw_throughput(image)}
    registries = {}
    for kind in ("berth", "distribution"):
        reg = Registry(kind, work / f"reg-{kind}")
        stoppers.append(reg.stop)
        reg.start()
        reg.upload(image)
        registries[kind] = reg
    pulls: dict[str, Any] = {}
    for kind, reg in registries.items():
        samples = alternate(args.rounds, sides, functools.partial(Daemon.pull, registry=reg),
                            f"pull<{kind}")
        pulls[kind] = {name: mbps(wire, s) for name, s in samples.items()}
    result["pull"] = pulls

    source = f"{registries['distribution'].host}/{REPO}:1"
    counter = iter(range(10_000))

    def push(d: Daemon) -> float:
        target = Registry("distribution", work / f"reg-push-{next(counter)}")
        target.start()
        try:
            return d.push(source, target)
        finally:
            target.stop()

    samples = alternate(args.rounds, sides, push, "push>distribution")
    result["push"] = {name: mbps(wire, s) for name, s in samples.items()}

    serve: dict[str, Any] = {}
    blob_bytes = sum(b.size for b in image.blobs) * args.clients
    for r in range(args.rounds):
        for kind, reg in (registries.items() if r % 2 == 0 else
                          list(registries.items())[::-1]):
            serve.setdefault(kind, []).append(serve_throughput(reg, image, args.clients))
    result["serve"] = {kind: mbps(blob_bytes, s) for kind, s in serve.items()}
    result["serve_clients"] = args.clients
    return result


def report(result: dict[str, Any]) -> None:
    lim = result["limits"]
    print(f"\nimage: {result['image_MB_compressed']} MB compressed "
          f"({lim['uncompressed_MB']} MB uncompressed), 4 gzip layers")
    print(f"machine limits (one core, in-process): sha256 {lim['sha256_MBps']} MB/s, "
          f"gunzip {lim['gunzip_MBps_compressed']} MB/s of compressed input\n")
    print(f"{'case':<34} {'median s':>9} {'min s':>7} {'MB/s':>8}")
    for what in ("pull", "push"):
        groups = result[what].items() if what == "pull" else [("distribution", result[what])]
        for kind, rows in groups:
            for name, row in rows.items():
                label = f"{what} {name} {'<' if what == 'pull' else '>'} {kind}"
                print(f"{label:<34} {row['median_ms'] / 1000:>9.2f} {row['min_ms'] / 1000:>7.2f}"
                      f" {row['MBps']:>8.1f}")
    for kind, row in result["serve"].items():
        label = f"serve {kind} ({result['serve_clients']} clients)"
        print(f"{label:<34} {row['median_ms'] / 1000:>9.2f} {row['min_ms'] / 1000:>7.2f}"
              f" {row['MBps']:>8.1f}")
    print()
    ratios: dict[str, float] = {}
    if "docker" in result["push"]:
        for kind, rows in result["pull"].items():
            ratios[f"pull<{kind} berth/docker MB/s"] = round(
                rows["berth"]["MBps"] / rows["docker"]["MBps"], 2)
        ratios["push berth/docker MB/s"] = round(
            result["push"]["berth"]["MBps"] / result["push"]["docker"]["MBps"], 2)
    serve = result["serve"]
    ratios["serve berth/distribution MB/s"] = round(
        serve["berth"]["MBps"] / serve["distribution"]["MBps"], 2)
    for key, value in ratios.items():
        print(f"{key:<36} {value:.2f}x (higher is better for berth)")
    result["ratios"] = ratios


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = entry_parser(__doc__, rounds=3)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--layer-mb", type=int, default=80, help="uncompressed MB per layer")
    p.add_argument("--clients", type=int, default=4, help="concurrent curls for 'serve'")
    return parse_entry_args(p, argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    def body(work: Path, tag: str, stoppers: Stoppers) -> dict[str, Any]:
        berthd, dockerd, _ = start_daemons(work, tag, stoppers, docker=not args.skip_docker,
                                           busybox=False)
        sides = [Daemon("berth", berthd.sock)]
        if dockerd is not None:
            sides.append(Daemon("docker", dockerd.sock))
        result = benchmark(work, args, sides, stoppers)
        report(result)
        return result

    return run_privately("pull_push", args.json, body)


if __name__ == "__main__":
    sys.exit(main())
