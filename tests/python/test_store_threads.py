"""SessionStore used from several threads: its calls release the GIL for
the store's file I/O, and close() may run while other threads are inside a
call.  Real sessions from a real openssl s_server."""
import ssl
import sys
import threading
import time

import tlsresume
from conftest import client

CTX = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
# Not verifying: these vectors come from unverified handshakes, and the
# trust rule (test_trust.py) keeps them from verifying contexts.
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def test_close_while_other_threads_use_the_store(tmp_path):
    # close() used to free the C store under calls running without the GIL
    # (which re-read the pointer to unlock it): a hang or a NULL store.
    # Now every call either completes or says "store is closed".
    bad = []
    for i in range(100):
        st = tlsresume.SessionStore(tmp_path / ("st%d" % i),
                                    ssl_context=CTX)
        started = threading.Barrier(4)

        def worker():
            started.wait()
            while True:
                try:
                    st.get("h", 443)
                    st.remove("h", 443)
                    st.prune()
                    len(st)
                    list(st)
                except ValueError as e:
                    if "store is closed" not in str(e):
                        bad.append(repr(e))
                    return

        ts = [threading.Thread(target=worker, daemon=True)
              for _ in range(3)]
        for t in ts:
            t.start()
        started.wait()
        time.sleep(0.002)
        # In a thread too: a deadlocked close() must fail the test, not
        # hang the suite.
        closer = threading.Thread(target=st.close, daemon=True)
        closer.start()
        for t in ts + [closer]:
            t.join(10)
            assert not t.is_alive(), "store call hung around close()"
    assert bad == []


def test_entries_walk_releases_the_gil(s_server, certs, tmp_path):
    # Iterating a store reads every entry file: other threads must run
    # meanwhile.  With a long switch interval only a voluntary GIL release
    # lets the spinning thread count during the call.
    srv = s_server("tls12-ticket")
    f = tmp_path / "live.der"
    client(srv.port, certs[0], session_out=f)
    sess = tlsresume.loads(f.read_bytes(), CTX)
    st = tlsresume.SessionStore(tmp_path / "st", ssl_context=CTX)
    for i in range(300):
        st.put("h%d" % i, 443, sess)
    count, stop = [0], []

    def spin():
        while not stop:
            count[0] += 1

    old = sys.getswitchinterval()
    sys.setswitchinterval(0.5)
    t = threading.Thread(target=spin, daemon=True)
    try:
        t.start()
        before = count[0]
        entries = st._store.entries()
        during = count[0] - before
    finally:
        stop.append(True)
        t.join(10)
        sys.setswitchinterval(old)
    assert len(entries) == 300
    assert during > 0


def test_store_limits_out_of_range_are_refused_not_truncated(tmp_path):
    # max_tickets / max_entries go to C as unsigned int: 2**32 + 1 used to
    # become 1 silently.
    import pytest
    for kw in ({"max_tickets": 2**32 + 1}, {"max_entries": 2**32},
               {"max_lifetime": 2**63}):
        with pytest.raises(tlsresume.Error) as ei:
            tlsresume.SessionStore(tmp_path / "st", **kw)
        assert ei.value.code == tlsresume.codes["TLSR_EINVAL"]
    tlsresume.SessionStore(tmp_path / "st", max_tickets=2**32 - 1).close()
