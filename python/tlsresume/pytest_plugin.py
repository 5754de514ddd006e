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
it, .wait_connections(n) waits until n were logged; .lines has its output
(an -early_data server prints what it read).
With ticket_keys=RING (a TicketKeyRing, its directory or a redis:// URL)
the server is Python's ssl with tlsresume.server.ticket_keys() instead
(tlsresume/_testserver.py; s_server cannot take a ring): servers on one
ring resume each other's tickets; .connections() means the same.
session_store is a temporary 0700 SessionStore.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest


def _killpg(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _stop_group(proc, sig=signal.SIGKILL, timeout=10):
    """Stop a process started with start_new_session=True and whatever it
    started (a server's workers outlive a killed parent), then reap it."""
    _killpg(proc, sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    _killpg(proc, signal.SIGKILL)       # what a graceful stop left behind
    proc.wait(timeout)


class TLSServer:
    """A local TLS server subprocess; .host .port .cafile, .lines."""

    def __init__(self, workdir, tls=None, tickets=True, cache=True,
                 early_data=False, num_tickets=None, ticket_keys=None):
        if shutil.which("openssl") is None:
            pytest.skip("openssl command not installed")
        if tls not in (None, "1.2", "1.3"):
            raise ValueError("tls must be None, '1.2' or '1.3', not %r"
                             % (tls,))
        ring = _ring_arg(ticket_keys, tickets, cache, early_data)
        self.cafile = os.path.join(workdir, "cert.pem")
        key = os.path.join(workdir, "key.pem")
        if not os.path.exists(self.cafile):
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                 "-keyout", key, "-out", self.cafile, "-days", "2",
                 "-subj", "/CN=localhost",
                 "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                check=True, capture_output=True)
        env = None
        if ring is None:
            argv = _s_server_argv(self.cafile, key, tls, tickets, cache,
                                  early_data, num_tickets)
        else:
            argv = [sys.executable, "-m", "tlsresume._testserver",
                    self.cafile, key]
            if tls is not None:
                argv += ["--tls", tls]
            if num_tickets is not None:
                argv += ["--num-tickets", str(num_tickets)]
            env = dict(os.environ, TLSRESUME_TESTSERVER_RING=ring)
            env.pop("TLSRESUME_TICKET_KEYS", None)  # the ring given wins
        self.ticket_keys = ring is not None
        self.host = "127.0.0.1"
        self.port = None
        self.lines = []
        self._ready = threading.Event()
        # A process group of its own: stop() ends whatever it started.
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     env=env, start_new_session=True)
        threading.Thread(target=self._drain, daemon=True).start()
        if not self._ready.wait(15) or self.port is None:
            self.stop()
            raise RuntimeError("%s did not start: %r"
                               % (argv[0] if ring is None else "tls_server "
                                  "(ticket_keys)", self.lines))

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
        if self.ticket_keys:    # _testserver: a JSON line each, by accept
            seen = sorted((json.loads(line) for line in list(self.lines)
                           if line.startswith("{")), key=lambda c: c["n"])
            return [{"resumed": c["resumed"]} for c in seen]
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

    def wait_connections(self, n, timeout=5.0):
        """connections() once it has n entries (the server logs a
        handshake a moment after the client saw it end)."""
        end = time.monotonic() + timeout
        while len(self.connections()) < n and time.monotonic() < end:
            time.sleep(0.02)
        return self.connections()

    def resumed_count(self):
        return sum(c["resumed"] for c in self.connections())

    def stop(self):
        _stop_group(self.proc)


def _s_server_argv(cert, key, tls, tickets, cache, early_data,
                   num_tickets):
    argv = ["openssl", "s_server", "-accept", "127.0.0.1:0",
            "-cert", cert, "-key", key]
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
    return argv


def _ring_arg(ring, tickets, cache, early_data):
    """ticket_keys= as what _testserver opens (None: s_server), checked
    here so that a bad ring fails the test with its own message."""
    if ring is None:
        return None
    from . import _core
    from ._redis_ring import RedisTicketKeyRing
    from ._ring import TicketKeyRing
    from ._session import _error
    if isinstance(ring, RedisTicketKeyRing):
        raise TypeError("ticket_keys: give a Redis ring as its redis:// URL "
                        "(the server process opens it itself)")
    if isinstance(ring, TicketKeyRing):
        ring = ring.path
    if not isinstance(ring, (str, os.PathLike)):
        raise TypeError("ticket_keys must be a TicketKeyRing, a ring "
                        "directory or a redis:// URL, not %s"
                        % type(ring).__name__)
    ring = os.fspath(ring)
    for bad, what in ((not tickets, "tickets=False"),
                      (not cache, "cache=False"),
                      (early_data, "early_data=True")):
        if bad:     # Python's ssl server has no knob for these
            raise _error(_core.TLSR_EINVAL, "tls_server: ticket_keys cannot "
                         "be combined with %s" % what)
    if "://" not in ring:
        TicketKeyRing(ring)     # missing, unsafe, corrupt: raise now
    return ring


@pytest.fixture
def tls_server(tmp_path):
    """tls_server(tls=None, tickets=True, cache=True, early_data=False,
    num_tickets=None, ticket_keys=None) -> TLSServer, stopped after the
    test.  ticket_keys: a TicketKeyRing, its directory or a redis:// URL:
    a Python ssl server sealing tickets with that ring."""
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
