"""A tiny fake Engine API on a unix socket, for the client and CLI tests.

It serves canned JSON for a handful of endpoints, a hijacked attach that sends stdcopy
frames once the container is started, a wait whose headers go out at once and whose body
follows the start, and it records every request (method, path, query, body) for asserts.
"""

from __future__ import annotations

import contextlib
import json
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from berth.client.stdcopy import frame

CID = "4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d"
IMAGE_ID = "sha256:" + "ab" * 32
EXEC_ID = "e" * 64
NETWORK_ID = "7d86d31b1478e7cca9ebed7e73aa0fdeec46c5ca29497431d3007d2d9e15ed99"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class State:
    requests: list[Request] = field(default_factory=list)
    started: threading.Event = field(default_factory=threading.Event)
    output_done: threading.Event = field(default_factory=threading.Event)
    exit_code: int = 0
    frames: list[tuple[int, bytes]] = field(default_factory=lambda: [(1, b"out\n"),
                                                                      (2, b"err\n")])
    start_error: str = ""
    containers: list[dict[str, Any]] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    missing_images: set[str] = field(default_factory=set)
    exec_exit_code: int = 0
    echo_stdin: bool = False  # attach/exec: read stdin to its EOF, then echo it as output
    state: dict[str, Any] = field(default_factory=lambda: {"Status": "running",
                                                           "Running": True})
    tty: bool = False
    top: dict[str, Any] = field(default_factory=lambda: {
        "Titles": ["PID", "COMMAND"], "Processes": [["1", "sh"], ["12345", "sleep 100"]]})
    pruned: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    network_settings: dict[str, Any] = field(default_factory=dict)  # inspect's
    networks: list[dict[str, Any]] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)
    volumes_pruned: list[str] = field(default_factory=list)
    # /containers/{id}/archive: container path -> (stat document, tar bytes for a GET)
    archive: dict[str, tuple[dict[str, Any], bytes]] = field(default_factory=dict)
    uploaded: bytes = b""  # the body of the last PUT .../archive
    changes: list[dict[str, Any]] = field(default_factory=list)
    disk_usage: dict[str, Any] = field(default_factory=dict)

    def find(self, method: str, suffix: str) -> Request:
        for req in self.requests:
            if req.method == method and req.path.endswith(suffix):
                return req
        raise AssertionError(f"no {method} {suffix} in {[r.path for r in self.requests]}")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer

    def log_message(self, format: str, *args: Any) -> None:
        return None

    # -- plumbing ---------------------------------------------------------------------
    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                chunk = self.rfile.read(size)
                self.rfile.readline()
                if size == 0:
                    return data
                data += chunk
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _reply(self, status: int, doc: Any = None, headers: dict[str, str] | None = None,
               ) -> None:
        body = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if doc is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _lines(self, docs: list[dict[str, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for doc in docs:
            line = json.dumps(doc).encode() + b"\r\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        req = Request(method, url.path, parse_qs(url.query), dict(self.headers), self._body())
        state = self.server.state
        state.requests.append(req)
        path = url.path.removeprefix("/v1.45")
        parts = path.strip("/").split("/")
        handler = getattr(self, f"_{method.lower()}_{parts[0].lstrip('_')}", None)
        if handler is None:
            self._reply(404, {"message": f"page not found: {path}"})
            return
        handler(req, parts[1:], state)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    # -- endpoints ----------------------------------------------------------------------
    def _get_ping(self, req: Request, parts: list[str], state: State) -> None:
        self.send_response(200)
        self.send_header("Api-Version", "1.45")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")

    def _head_ping(self, req: Request, parts: list[str], state: State) -> None:
        self.send_response(200)
        self.send_header("Api-Version", "1.45")
        self.send_header("Content-Length", "2")
        self.end_headers()

    def _get_version(self, req: Request, parts: list[str], state: State) -> None:
        self._reply(200, {"Version": "0.1.0", "ApiVersion": "1.45", "MinAPIVersion": "1.24",
                          "Os": "linux", "Arch": "amd64", "Components": []})

    def _get_containers(self, req: Request, parts: list[str], state: State) -> None:
        if parts == ["json"]:
            self._reply(200, state.containers)
        elif parts[0] not in ("web", CID):
            self._reply(404, {"message": f"No such container: {parts[0]}"})
        elif parts[1] == "json":
            self._reply(200, {"Id": CID, "Name": "/web",
                              "Config": {"Tty": state.tty, "OpenStdin": True},
                              "State": state.state, "HostConfig": {},
                              "NetworkSettings": state.network_settings})
        elif parts[1] == "top":
            self._reply(200, state.top)
        elif parts[1] == "changes":
            self._reply(200, state.changes or None)
        elif parts[1] == "archive":
            self._archive(req, state, with_body=True)
        elif parts[1] == "logs":
            self._lines_raw([frame(s, p) for s, p in state.frames])

    def _archive(self, req: Request, state: State, with_body: bool) -> None:
        """Docker's archive endpoints: the stat in X-Docker-Container-Path-Stat (base64
        JSON), and for a GET the tar as a chunked body."""
        import base64

        path = req.query.get("path", [""])[0]
        if path not in state.archive:
            message = {"message": f"Could not find the file {path} in container web"}
            self._reply(404, message if with_body else None)
            return
        stat, tar = state.archive[path]
        self.send_response(200)
        self.send_header("X-Docker-Container-Path-Stat",
                         base64.b64encode(json.dumps(stat).encode()).decode())
        self.send_header("Content-Type", "application/x-tar")
        if not with_body:
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(0, len(tar), 1000):
            chunk = tar[i:i + 1000]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def _head_containers(self, req: Request, parts: list[str], state: State) -> None:
        self._archive(req, state, with_body=False)

    def _put_containers(self, req: Request, parts: list[str], state: State) -> None:
        path = req.query.get("path", [""])[0]
        if path not in state.archive:
            self._reply(404, {"message": f"Could not find the file {path} in container web"})
            return
        state.uploaded = req.body
        self._reply(200)

    def _post_commit(self, req: Request, parts: list[str], state: State) -> None:
        if req.query.get("container", [""])[0] not in ("web", CID):
            self._reply(404, {"message": "No such container: nosuch"})
        else:
            self._reply(201, {"Id": IMAGE_ID})

    def _post_build(self, req: Request, parts: list[str], state: State) -> None:
        self._reply(200, {"CachesDeleted": ["cache1"], "SpaceReclaimed": 1000})

    def _get_system(self, req: Request, parts: list[str], state: State) -> None:
        self._reply(200, state.disk_usage)

    def _volume(self, name: str, state: State) -> dict[str, Any] | None:
        return next((v for v in state.volumes if v["Name"] == name), None)

    def _get_volumes(self, req: Request, parts: list[str], state: State) -> None:
        if not parts or parts == [""]:
            self._reply(200, {"Volumes": state.volumes, "Warnings": []})
            return
        found = self._volume(parts[0], state)
        if found is None:
            self._reply(404, {"message": f"get {parts[0]}: no such volume"})
        else:
            self._reply(200, found)

    def _post_volumes(self, req: Request, parts: list[str], state: State) -> None:
        if parts == ["prune"]:
            self._reply(200, {"VolumesDeleted": state.volumes_pruned,
                              "SpaceReclaimed": 2048 * len(state.volumes_pruned)})
            return
        body = json.loads(req.body)
        name = body.get("Name") or "f" * 64
        self._reply(201, {"Name": name, "Driver": body.get("Driver"), "Scope": "local",
                          "Labels": body.get("Labels"), "Options": body.get("DriverOpts"),
                          "Mountpoint": f"/var/lib/berth/volumes/{name}/_data"})

    def _delete_volumes(self, req: Request, parts: list[str], state: State) -> None:
        found = self._volume(parts[0], state)
        if found is None:
            self._reply(404, {"message": f"get {parts[0]}: no such volume"})
        elif found.get("UsageData", {}).get("RefCount"):
            self._reply(409, {"message": f"remove {parts[0]}: volume is in use - [{CID}]"})
        else:
            self._reply(204)

    def _lines_raw(self, chunks: list[bytes]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.docker.multiplexed-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def _post_containers(self, req: Request, parts: list[str], state: State) -> None:
        if parts == ["create"]:
            image = json.loads(req.body)["Image"]
            if image in state.missing_images:
                self._reply(404, {"message": f"No such image: {image}"})
            else:
                self._reply(201, {"Id": CID, "Warnings": []})
            return
        if parts == ["prune"]:
            self._reply(200, {"ContainersDeleted": state.pruned,
                              "SpaceReclaimed": 2048 * len(state.pruned)})
            return
        if parts[0] == "nosuch":
            self._reply(404, {"message": "No such container: nosuch"})
            return
        action = parts[1]
        if action == "start":
            if state.start_error:
                self._reply(500, {"message": state.start_error})
                return
            state.started.set()
            self._reply(204)
        elif action == "attach":
            self._attach(req, state)
        elif action == "exec":
            self._reply(201, {"Id": EXEC_ID})
        elif action == "wait":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            state.output_done.wait(5)
            line = json.dumps({"StatusCode": state.exit_code}).encode()
            self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(line), line))
        else:
            self._reply(204)

    def _upgrade(self, tty: bool) -> None:
        self.send_response(101, "UPGRADED")
        self.send_header("Content-Type", "application/vnd.docker.raw-stream" if tty else
                         "application/vnd.docker.multiplexed-stream")
        self.send_header("Connection", "Upgrade")
        self.send_header("Upgrade", "tcp")
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True

    def _stdin(self) -> bytes:
        """What the client sends until it half-closes (its stdin's EOF)."""
        data = b""
        while chunk := self.rfile.read1(65536):
            data += chunk
        return data

    def _send_output(self, frames: list[tuple[int, bytes]], echoed: bytes, tty: bool) -> None:
        if echoed:
            frames = [*frames, (1, echoed)]
        for stream, payload in frames:
            self.wfile.write(payload if tty else frame(stream, payload))
        self.wfile.flush()

    def _attach(self, req: Request, state: State) -> None:
        """Output once the container is started; with ``echo_stdin``, what the client
        sent (until its half-close) is echoed back after it, as ``cat`` would."""
        self._upgrade(state.tty)
        if state.started.wait(5):
            echoed = self._stdin() if state.echo_stdin else b""
            self._send_output(state.frames, echoed, state.tty)
        state.output_done.set()

    def _post_exec(self, req: Request, parts: list[str], state: State) -> None:
        if parts[1] == "resize":
            self._reply(200)
            return
        body = json.loads(req.body)
        if body.get("Detach"):
            self._reply(200)
            return
        self._upgrade(body.get("Tty", False))
        create = json.loads(state.find("POST", "/exec").body)
        echoed = self._stdin() if create.get("AttachStdin") and state.echo_stdin else b""
        self._send_output(state.frames, echoed, body.get("Tty", False))

    def _get_exec(self, req: Request, parts: list[str], state: State) -> None:
        self._reply(200, {"ID": parts[0], "Running": False, "ExitCode": state.exec_exit_code})

    def _get_events(self, req: Request, parts: list[str], state: State) -> None:
        self._lines(state.events)

    def _delete_containers(self, req: Request, parts: list[str], state: State) -> None:
        if parts[0] == "running":
            self._reply(409, {"message": "You cannot remove a running container"})
        else:
            self._reply(204)

    def _get_images(self, req: Request, parts: list[str], state: State) -> None:
        if parts == ["json"]:
            self._reply(200, state.images)
        elif parts[0] == "busybox":
            self._reply(200, {"Id": IMAGE_ID, "RepoTags": ["busybox:latest"]})
        else:
            self._reply(404, {"message": f"No such image: {parts[0]}"})

    def _post_images(self, req: Request, parts: list[str], state: State) -> None:
        if parts == ["prune"]:
            self._reply(200, {"ImagesDeleted": [{"Untagged": "old:1"}, {"Deleted": IMAGE_ID}],
                              "SpaceReclaimed": 1_500_000})
        elif parts == ["create"] and "fromImage" in req.query:
            self._reply(500, {"message": "no registry configured"})
        elif parts == ["create"]:
            self._lines([{"status": IMAGE_ID}])
        elif parts == ["bootstrap"]:
            self._lines([{"status": "Creating busybox"}, {"status": "Done", "id": IMAGE_ID}])

    def _delete_images(self, req: Request, parts: list[str], state: State) -> None:
        self._reply(200, [{"Untagged": f"{parts[0]}:latest"}, {"Deleted": IMAGE_ID}])


    def _network(self, ident: str, state: State) -> dict[str, Any] | None:
        return next((n for n in state.networks
                     if ident in (n["Name"], n["Id"]) or n["Id"].startswith(ident)), None)

    def _get_networks(self, req: Request, parts: list[str], state: State) -> None:
        if not parts or parts == [""]:
            self._reply(200, state.networks)
            return
        found = self._network(parts[0], state)
        if found is None:
            self._reply(404, {"message": f"network {parts[0]} not found"})
        else:
            self._reply(200, found)

    def _post_networks(self, req: Request, parts: list[str], state: State) -> None:
        if parts == ["create"]:
            self._reply(201, {"Id": NETWORK_ID, "Warning": ""})
        elif parts == ["prune"]:
            self._reply(200, {"NetworksDeleted": [n["Name"] for n in state.networks]})
        elif self._network(parts[0], state) is None:
            self._reply(404, {"message": f"network {parts[0]} not found"})
        else:
            self._reply(200)

    def _delete_networks(self, req: Request, parts: list[str], state: State) -> None:
        found = self._network(parts[0], state)
        if found is None:
            self._reply(404, {"message": f"network {parts[0]} not found"})
        elif found.get("Containers"):
            self._reply(403, {"message": f"error while removing network: network {parts[0]} "
                                         f"id {found['Id']} has active endpoints"})
        else:
            self._reply(204)


class FakeServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str) -> None:
        super().__init__(path, Handler)
        self.state = State()

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client hung up (a closed pending wait): not the fake's failure
        super().handle_error(request, client_address)


@contextlib.contextmanager
def serving(path: str) -> Iterator[FakeServer]:
    """The fake daemon on the unix socket ``path`` until the block ends."""
    server = FakeServer(path)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
