"""Test HTTP server for netmon's end-to-end tests.

GET /bytes/N answers N bytes and closes the connection (HTTP/1.0), so every request is one
short TCP connection; GET /page/N answers N bytes of text as an HTML page (what a browser
renders rather than downloads). Listens dual-stack on [::]:PORT with a deep accept queue, so
hundreds of concurrent connections are accepted at once. Given a certificate and key after the
port, it serves HTTPS.
"""

import http.server
import socket
import ssl
import sys

CHUNK = b"\0" * 65536
PAGE_CHUNK = b"a" * 65536


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        try:
            size = int(self.path.rsplit("/", 1)[-1])
        except ValueError:
            self.send_error(400, "expected /bytes/N")
            return
        page = self.path.startswith("/page/")
        chunk = PAGE_CHUNK if page else CHUNK
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        if page:
            self.send_header("Content-Type", "text/html")
        self.end_headers()
        while size > 0:
            part = chunk[: min(size, len(chunk))]
            self.wfile.write(part)
            size -= len(part)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    request_queue_size = 1024
    daemon_threads = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


if __name__ == "__main__":
    server = Server(("::", int(sys.argv[1])), Handler)
    if len(sys.argv) == 4:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[2], sys.argv[3])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()
