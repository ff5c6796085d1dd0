"""A real HTTP receiver on 127.0.0.1, in a thread, that answers as a test scripts it."""

import http.server
import json
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    at: float

    @property
    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each request with the next scripted (status, seconds to wait, headers); 200 after."""

    script: list = field(default_factory=list)
    received: list = field(default_factory=list)

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append(
                    Received(self.path, dict(self.headers), body, time.monotonic())
                )
                status, wait, headers = receiver.script.pop(0) if receiver.script else (200, 0, {})
                time.sleep(wait)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender gave up waiting (a timeout test)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hooks/media"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
