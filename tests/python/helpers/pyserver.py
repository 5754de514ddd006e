"""HTTPS test server: http.server over ssl on 127.0.0.1, free port.

Prints "PORT n", then one JSON line per request: what ITS OWN SSLSocket says
(session_reused, version); the same JSON is the response body.
usage: pyserver.py CERT KEY MODE   (MODE: tls12-sid, tls12-ticket, tls13)
"""
import http.server
import json
import ssl
import sys

cert, key, mode = sys.argv[1:4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
if mode.startswith("tls12"):
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
else:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
if mode == "tls12-sid":
    ctx.options |= ssl.OP_NO_TICKET
# CPython 3.8/3.9 (built with OpenSSL 3) set OP_IGNORE_UNEXPECTED_EOF by
# default, 3.10+ do not.  With it, OpenSSL turns the client's plain close
# during our unwrap() into SSL_set_shutdown(RECEIVED) -- which clears
# SENT_SHUTDOWN -- so SSL_free drops the session from the server's cache
# and no session ID ever resumes.  Clear it: one behaviour on every version.
ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        report = {"reused": self.request.session_reused,
                  "version": self.request.version(), "path": self.path}
        body = json.dumps(report).encode()
        print(json.dumps(report), flush=True)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def get_request(self):
        sock, addr = super().get_request()
        # Handshake in the handler thread, not in the accept loop.
        return ctx.wrap_socket(sock, server_side=True,
                               do_handshake_on_connect=False), addr

    def finish_request(self, request, client_address):
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError):
            return
        super().finish_request(request, client_address)

    def shutdown_request(self, request):
        try:
            request.unwrap()    # close_notify: a clean TLS close
        except (ssl.SSLError, OSError):
            pass
        super().shutdown_request(request)


srv = Server(("127.0.0.1", 0), Handler)
print("PORT %d" % srv.server_address[1], flush=True)
srv.serve_forever()
