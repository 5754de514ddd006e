"""attach() with clients that use one TLS 1.3 connection from two threads
(issue 8, finding 2): the reader thread sits in SSL_read when the server's
tickets arrive, so the capture callback runs there while another thread
writes.  The callback used to write the store (file I/O, under the store
lock) inside that SSL_read: the websockets sync client hung in 16-28 % of
runs.  Now it only queues the session for a writer thread.

Each client process makes RUNS connections, each under a deadline: a
connection that does not finish in time counts as a hang.  More than
RACE_ALLOWANCE hangs or errors in three samples fail the test (see below).  Resumption is checked by the server's own report.

Two threads on one OpenSSL connection race even without tlsresume (the
writer can enter the TLS 1.3 ticket processing the reader is in): measured
here with plain session reuse and no tlsresume, 0 hangs in 400 websockets
runs and 0 in 180 reader/writer runs with a thread writing files, but 4 in
240 websockets runs with that thread.  So websockets runs without it; with
the old callback, 5-11 of 60 runs hung in each of these tests."""
import sys

import pytest

import tlsresume
from conftest import HELPERS, run_py, server_reports

RUNS = 60
DEADLINE = 4          # seconds per connection (see run_clients)


@pytest.fixture
def echo_server(start_server, certs):
    """TLS 1.3 echo server, helpers/echo_server.py: kind "ws" (websockets
    sync server) or "raw"."""
    def start(kind):
        cert, key = certs
        return start_server(
            [sys.executable, str(HELPERS / "echo_server.py"), str(cert),
             str(key), kind], r"^PORT (\d+)")
    return start


def run_clients(srv, kind, certs, store, busy=False):
    # A 4 s deadline per connection: a hang of the kind the old callback
    # caused lasts until the server gives up (~60 s); a connection here
    # takes 30-100 ms, a slow machine's well under 4 s.  Each hang of the
    # race costs the suite the deadline (was 10 s: 43 s for this test).
    args = [HELPERS / "threads_client.py", kind, srv.port, certs[0], store,
            RUNS, DEADLINE]
    if busy:
        args.append("BUSY")
    out = run_py(args, timeout=RUNS * (DEADLINE + 1) + 30, check=False)
    if isinstance(out, dict):
        return out
    # The client process died (a signal): the same race, at its worst
    # (seen once in a CI run, on CPython 3.9): a failed sample.
    print("client died (%d): %s" % (out.returncode, out.stderr[-3000:]))
    return {"ok": 0, "hangs": 0, "errors": ["died: %d" % out.returncode],
            "reused": [None], "busy_puts": 0, "died": out.returncode}


# What the race above alone produces on a machine busy with other work:
# at most this many of RUNS (the old callback: 5-11).
RACE_ALLOWANCE = 2


def failures(out):
    if "died" in out:
        return RUNS
    return out["hangs"] + len(out["errors"])


def measure(echo_server, certs, tmp_path, kind, busy=False):
    """RUNS connections against a fresh server and store.  OpenSSL's own
    race (above) can exceed the allowance on a loaded machine (3-4 of 60
    seen; without attach() as often: 15 of 1380 websockets runs here,
    against 12 of 1380 with it, CPython 3.9) or crash the client (once in
    CI, on 3.9 and 3.10): then another sample decides, up to three.  The
    old callback failed 5-11 of every 60, so it fails all three."""
    for attempt in (1, 2, 3):
        srv = echo_server(kind)
        out = run_clients(srv, kind, certs, tmp_path / ("st%d" % attempt),
                          busy)
        if failures(out) <= RACE_ALLOWANCE:
            break
    return out, srv


def check(out, srv):
    assert failures(out) <= RACE_ALLOWANCE, out
    assert out["ok"] >= RUNS - RACE_ALLOWANCE, out
    # Every connection after the first resumed (from the store), by the
    # server's own account.
    reports = [r["reused"] for r in server_reports(srv)]
    assert len(reports) >= RUNS - RACE_ALLOWANCE
    # The first connection is the full handshake, unless it hung after its
    # tickets arrived and before the server reported it (websockets reports
    # after the opening handshake): then the first report is a resumption.
    if out["reused"][0] is not None:
        assert reports[0] is False, reports
    assert reports.count(False) <= 1 + RACE_ALLOWANCE, reports


def test_regression_new_session_cb_no_io_in_ssl_read_websockets(
        echo_server, certs, tmp_path):
    pytest.importorskip("websockets.sync.client")
    check(*measure(echo_server, certs, tmp_path, "ws"))


def test_regression_new_session_cb_no_io_in_ssl_read_reader_writer(
        echo_server, certs, tmp_path):
    # A reader thread in recv, this thread sending, one SSLSocket; the
    # store busy with another thread's writes.
    out, srv = measure(echo_server, certs, tmp_path, "raw", busy=True)
    assert out["busy_puts"] > 0
    check(out, srv)


def test_sessions_reach_the_store_after_flush_and_in_a_new_process(
        echo_server, certs, tmp_path):
    # The session is written by the core's thread: flush() waits for it,
    # and a client process that exits right after its connection still
    # left it for the next process (written at exit).
    import socket
    import ssl
    srv = echo_server("raw")
    store = tlsresume.SessionStore(tmp_path / "st")
    ctx = ssl.create_default_context(cafile=str(certs[0]))
    tlsresume.attach(ctx, store)
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.port)),
                         server_hostname="localhost") as c:
        c.sendall(b"x")
        assert c.recv(1) == b"x"
    assert tlsresume.flush(ctx, timeout=10) is True
    assert len(tlsresume.SessionStore(tmp_path / "st")) >= 1
    out = run_py([HELPERS / "threads_client.py", "raw", srv.port, certs[0],
                  tmp_path / "st", 1, 5])
    assert out["reused"] == [True]
    out = run_py([HELPERS / "threads_client.py", "raw", srv.port, certs[0],
                  tmp_path / "st", 1, 5])
    assert out["reused"] == [True]      # the previous process saved its own
    assert [r["reused"] for r in server_reports(srv)] == [False, True, True]
    tlsresume.detach(ctx)


def test_flush_argument_checks(tmp_path):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    assert tlsresume.flush(ctx) is True         # not attached: nothing
    tlsresume.attach(ctx, tlsresume.SessionStore(tmp_path / "s"))
    assert tlsresume.flush(ctx, timeout=0) is True
    assert tlsresume.flush(ctx, timeout=None) is True
    with pytest.raises(TypeError):
        tlsresume.flush(object())
    with pytest.raises(TypeError):
        tlsresume.flush(ctx, timeout="1")
    with pytest.raises(TypeError):
        tlsresume.flush(ctx, timeout=True)
    for bad in (-1, float("nan")):
        with pytest.raises(tlsresume.Error):
            tlsresume.flush(ctx, timeout=bad)
