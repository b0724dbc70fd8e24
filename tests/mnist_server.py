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


def blank_contents() -> bytes:
    """A valid Keras-layout .npz of a few blank images with valid labels: passes every check but MNIST's counts."""
    buffer = io.BytesIO()
    np.savez(buffer, x_train=np.zeros((100, 28, 28), np.uint8), y_train=np.arange(100) % 10,
             x_test=np.zeros((10, 28, 28), np.uint8), y_test=np.arange(10))
    return buffer.getvalue()


RAW_ANSWERS = {  # malformed HTTP, written to the socket as is
    "/garbage-status": b"HELLO THERE\r\n\r\n",
    "/bad-chunks": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz-not-hex\r\nabc\r\n",
    "/many-headers": b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-Header-%d: %d\r\n" % (n, n) for n in range(300)) +
                     b"Content-Length: 0\r\n\r\n",
}
DRIP_PAUSE_S = 0.3  # /drip sends one byte this often: every read is answered in time, the download never ends


class MnistServer:
    """A local HTTP server: /mnist.npz (the real file), /truncated.npz (promises all, sends half), /wrong.npz (not
    MNIST), /blank.npz (110 blank images), /stall (accepts, never answers), /drip (a byte every ``DRIP_PAUSE_S``),
    /loop (redirects to itself), the malformed answers of ``RAW_ANSWERS``, and 404 for anything else."""

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
                if self.path in RAW_ANSWERS:
                    self.wfile.write(RAW_ANSWERS[self.path])
                    return
                if self.path == "/loop":
                    self.send_response(302)
                    self.send_header("Location", "/loop")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path == "/drip":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(mnist_bytes)))
                    self.end_headers()
                    for byte in range(len(mnist_bytes)):
                        if server.release.wait(DRIP_PAUSE_S):
                            return
                        try:
                            self.wfile.write(mnist_bytes[byte:byte + 1])
                            self.wfile.flush()
                        except OSError:  # the client hung up
                            return
                    return
                body = {"/mnist.npz": mnist_bytes, "/truncated.npz": mnist_bytes, "/blank.npz": blank_contents(),
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
