#!/usr/bin/env python3
"""The scripted fault server of the conformance suite (Python standard library only).

It listens on two loopback ports, the *primary* origin and the *other* origin (for
cross-origin redirects), and answers each request from the `fault` script of a scenario file:

    base URL of a runner:  http://127.0.0.1:PRIMARY/<scenario>.<run>

The first path segment (the *key*) names the scenario and keeps runs of different languages
apart; the n-th request under a key, on either port, gets the n-th entry of the scenario's
`fault` list (see README.md for the entry fields). Requests beyond the script get a 418 and
are recorded as violations, as are requests that break an entry's `expect`.

    GET /__log/<key>   (primary port) what the key saw: {"hits", "requests", "violations"}

Usage: fault_server.py SCENARIO_DIR READY_FILE   (writes {"url", "other_url", "pid"} when ready)
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class Script:
    """Every key's position in its scenario's script and what it saw."""

    def __init__(self, scenario_dir: Path) -> None:
        self.scenario_dir = scenario_dir
        self.lock = threading.Lock()
        self.keys: dict[str, dict[str, Any]] = {}

    def entries(self, scenario: str) -> list[dict[str, Any]] | None:
        path = self.scenario_dir / f"{scenario}.json"
        if "/" in scenario or not path.is_file():
            return None
        data = json.loads(path.read_text())
        fault = data.get("fault")
        return fault if isinstance(fault, list) else None

    def next_entry(self, key: str, seen: dict[str, Any]) -> dict[str, Any] | None:
        """Records the request `seen` under `key` and returns the entry that answers it."""
        scenario = key.split(".", 1)[0]
        entries = self.entries(scenario)
        with self.lock:
            state = self.keys.setdefault(key, {"requests": [], "violations": []})
            state["requests"].append(seen)
            n = len(state["requests"])
            if entries is None:
                state["violations"].append(f"request {n}: no fault script for {scenario!r}")
                return None
            if n > len(entries):
                state["violations"].append(
                    f"request {n} ({seen['method']} {seen['path']}) is beyond the script "
                    f"({len(entries)} entries)"
                )
                return None
            entry = entries[n - 1]
            for problem in unmet(entry.get("expect", {}), seen):
                state["violations"].append(f"request {n}: {problem}")
            return entry

    def log(self, key: str) -> dict[str, Any]:
        with self.lock:
            state = self.keys.get(key, {"requests": [], "violations": []})
            return {
                "hits": len(state["requests"]),
                "requests": list(state["requests"]),
                "violations": list(state["violations"]),
            }


def unmet(expect: dict[str, Any], seen: dict[str, Any]) -> list[str]:
    """What of an entry's `expect` the request did not fulfil."""
    problems = []
    for field in ("origin", "method", "path", "auth", "body"):
        if field in expect and expect[field] != seen[field]:
            problems.append(f"{field} was {seen[field]!r}, expected {expect[field]!r}")
    return problems


def make_handler(script: Script, origin: str, urls: dict[str, str]) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            pass

        def do_any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                body = read_chunked(self.rfile)
            parts = self.path.split("?", 1)[0].split("/", 2)
            key = parts[1] if len(parts) > 1 else ""
            rest = "/" + parts[2] if len(parts) > 2 else "/"
            if key == "__log" and self.command == "GET":
                self.send_json(200, script.log(rest.strip("/")))
                return
            seen = {
                "origin": origin,
                "method": self.command,
                "path": rest + ("?" + self.path.split("?", 1)[1] if "?" in self.path else ""),
                "auth": "Authorization" in self.headers,
                "body": body.decode("utf-8", "replace"),
            }
            entry = script.next_entry(key, seen)
            if entry is None:
                self.send_json(418, {"error": "unscripted request (see the fault log)"})
                return
            self.answer(entry, key)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_any

        def answer(self, entry: dict[str, Any], key: str) -> None:
            time.sleep(entry.get("delay_ms", 0) / 1000)
            if "json" in entry:
                payload = json.dumps(entry["json"]).encode()
                content_type = entry.get("content_type", "application/json")
            else:
                payload = entry.get("body", "").encode()
                content_type = entry.get("content_type", "text/plain")
            try:
                self.send_response(entry.get("status", 200))
                for name, value in entry.get("headers", {}).items():
                    value = value.replace("{self}", f"{urls['primary']}/{key}")
                    self.send_header(name, value.replace("{other}", f"{urls['other']}/{key}"))
                self.send_header("Content-Type", content_type)
                if entry.get("reset_mid_body"):
                    # Promise more than is sent, then reset the connection (RST, not FIN).
                    self.send_header("Content-Length", str(len(payload) + 4096))
                    self.end_headers()
                    self.wfile.write(payload[: max(1, len(payload) // 2)])
                    self.wfile.flush()
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()
                    self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up first (a timeout scenario): nothing left to answer.
                self.close_connection = True

        def send_json(self, status: int, value: Any) -> None:
            payload = json.dumps(value).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def read_chunked(stream: Any) -> bytes:
    body = b""
    while True:
        size = int(stream.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            stream.readline()
            return body
        body += stream.read(size)
        stream.readline()


def main() -> None:
    scenario_dir, ready_file = Path(sys.argv[1]), Path(sys.argv[2])
    script = Script(scenario_dir)
    servers = {name: ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) for name in ("primary", "other")}
    urls = {name: f"http://127.0.0.1:{s.server_address[1]}" for name, s in servers.items()}
    for name, server in servers.items():
        server.RequestHandlerClass = make_handler(script, name, urls)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    tmp = ready_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"url": urls["primary"], "other_url": urls["other"], "pid": os.getpid()}))
    tmp.rename(ready_file)
    threading.Event().wait()


if __name__ == "__main__":
    main()
