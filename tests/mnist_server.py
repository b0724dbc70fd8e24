"""A real HTTP server on 127.0.0.1 that serves MNIST, and the broken variants a download must survive (used by the
download tests, the Home page test and the browser journey)."""

from __future__ import annotations

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np


def wrong_contents() -> bytes:
    """A well-formed .npz whose arrays are not MNIST (labels out of range)."""
    buffer = io.BytesIO()
    images = np.zeros((20, 28, 28), np.uint8)
    np.savez(buffer, x_train=images, y_train=np.full(20, 12), x_test=images, y_test=np.zeros(20, np.int64))
    return buffer.getvalue()


class MnistServer:
    """A local HTTP server: /mnist.npz (the real file), /truncated.npz (promises all, sends half), /wrong.npz (not
    MNIST), /stall (accepts, never answers) and 404 for anything else."""

    def __init__(self, mnist_bytes: bytes):
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path == "/stall":
                    server.release.wait(30)
                    return
                body = {"/mnist.npz": mnist_bytes, "/truncated.npz": mnist_bytes,
                        "/wrong.npz": wrong_contents()}.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if self.path == "/truncated.npz" else body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
