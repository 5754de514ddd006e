"""pytest plugin (entry point pytest11 "tlsresume"): inert unless a test
asks for its fixtures.

    def test_my_server(tls_server):
        srv = tls_server(tls="1.3", tickets=True)
        tlsresume.testing.assert_resumes(srv.host, srv.port,
                                         cafile=srv.cafile)

tls_server(...) starts `openssl s_server` on 127.0.0.1 (a free port) in a
subprocess: tls "1.2" / "1.3" / None, tickets on/off, cache on/off,
early_data, num_tickets.  .connections() is the server's own word per
connection ({"resumed": bool}, from its -msg log), .resumed_count() sums
it; .lines has its output (an -early_data server prints what it read).
session_store is a temporary 0700 SessionStore.
"""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest


class TLSServer:
    """A local TLS server subprocess; .host .port .cafile, .lines."""

    def __init__(self, workdir, tls=None, tickets=True, cache=True,
                 early_data=False, num_tickets=None):
        if shutil.which("openssl") is None:
            pytest.skip("openssl command not installed")
        self.cafile = os.path.join(workdir, "cert.pem")
        key = os.path.join(workdir, "key.pem")
        if not os.path.exists(self.cafile):
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                 "-keyout", key, "-out", self.cafile, "-days", "2",
                 "-subj", "/CN=localhost",
                 "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                check=True, capture_output=True)
        argv = ["openssl", "s_server", "-accept", "127.0.0.1:0",
                "-cert", self.cafile, "-key", key]
        argv += {None: [], "1.2": ["-tls1_2"], "1.3": ["-tls1_3"]}[tls]
        if not tickets:
            argv.append("-no_ticket")
        if not cache:
            argv.append("-no_cache")
        if num_tickets is not None:
            argv += ["-num_tickets", str(num_tickets)]
        # -early_data cannot be combined with -www (s_server); -msg logs
        # the handshake messages, the server's own word on resumption.
        argv.append("-early_data" if early_data else "-www")
        argv.append("-msg")
        self.host = "127.0.0.1"
        self.port = None
        self.lines = []
        self._ready = threading.Event()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._drain, daemon=True).start()
        if not self._ready.wait(15) or self.port is None:
            self.stop()
            raise RuntimeError("openssl s_server did not start: %r"
                               % self.lines)

    def _drain(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            m = re.search(r"ACCEPT 127\.0\.0\.1:(\d+)", line)
            if m and self.port is None:
                self.port = int(m.group(1))
                self._ready.set()
        self._ready.set()

    def connections(self):
        """Per connection (ClientHello) seen so far, the server's own
        word: {"resumed": bool} (a resumed handshake sends no
        Certificate); handshakes the server refused are left out."""
        out = []
        for line in list(self.lines):
            if line.startswith("<<< ") and line.endswith(", ClientHello"):
                out.append({"resumed": True})
            elif out and line.startswith(">>> ") and (
                    line.endswith(", Certificate")):
                out[-1]["resumed"] = False
            elif out and line.startswith(">>> ") and ", fatal " in line:
                out[-1]["failed"] = True    # refused: no connection
        return [c for c in out if not c.get("failed")]

    def resumed_count(self):
        return sum(c["resumed"] for c in self.connections())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def tls_server(tmp_path):
    """tls_server(tls=None, tickets=True, cache=True, early_data=False,
    num_tickets=None) -> TLSServer, stopped after the test."""
    started = []

    def start(**kw):
        s = TLSServer(str(tmp_path), **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def session_store():
    """A SessionStore in a new 0700 temporary directory."""
    from . import SessionStore
    d = tempfile.mkdtemp(prefix="tlsresume-store-")
    os.chmod(d, 0o700)
    store = SessionStore(os.path.join(d, "store"))
    try:
        yield store
    finally:
        close = getattr(store, "close", None)
        if close is not None:
            close()
        shutil.rmtree(d, ignore_errors=True)
