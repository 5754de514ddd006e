"""RedisStore faults: a store is an optimization.  Redis killed, back
empty, refusing the password, unreachable or silent: connections succeed
(full handshakes), a warning says why, no exception escapes and no
connection waits past the timeout.  Values that are not usable (sealed
under another key, tampered, not ours, of another type) are misses."""
import socket
import ssl
import threading
import time
import warnings

import pytest

import tlsresume
from redis_support import RedisServer, https_get, redis_server  # noqa: F401

redis = pytest.importorskip("redis")

TIMEOUT = 0.2


def timed_get(port, ctx):
    t = time.monotonic()
    r = https_get(port, ctx)
    return r, time.monotonic() - t


def test_redis_killed_mid_run_then_back_empty(redis_server, py_server,
                                              certs):
    srv = py_server("tls13")
    ctx = ssl.create_default_context(cafile=certs[0])
    store = tlsresume.RedisStore(redis_server.url, timeout=TIMEOUT,
                                 retry_after=0)
    tlsresume.attach(ctx, store)
    assert https_get(srv.port, ctx)["reused"] is False
    store.flush(5)
    assert https_get(srv.port, ctx)["reused"] is True
    store.flush(5)
    redis_server.kill()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for _ in range(3):
            r, took = timed_get(srv.port, ctx)
            assert r["reused"] is False         # a full handshake
            assert took < TIMEOUT + 1.0
            store.flush(1)
    assert any("Redis store unavailable" in str(x.message) for x in w)
    redis_server.start()                        # same port, empty
    assert https_get(srv.port, ctx)["reused"] is False
    store.flush(5)
    assert https_get(srv.port, ctx)["reused"] is True
    store.close()


def test_regression_backoff_after_failure_skips_redis(redis_server,
                                                      py_server, certs):
    # After a failure Redis is left alone for retry_after: connections
    # made meanwhile do not pay the timeout again.
    srv = py_server("tls13")
    ctx = ssl.create_default_context(cafile=certs[0])
    store = tlsresume.RedisStore(redis_server.url, timeout=TIMEOUT,
                                 retry_after=30)
    tlsresume.attach(ctx, store)
    redis_server.kill()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for _ in range(3):
            assert https_get(srv.port, ctx)["reused"] is False
    assert sum("unavailable" in str(x.message) for x in w) == 1
    store.close()


def test_wrong_password_warns_and_connects(redis_server, py_server, certs):
    srv = py_server("tls13")
    ctx = ssl.create_default_context(cafile=certs[0])
    url = "redis://:wrong@127.0.0.1:%d/0" % redis_server.port
    store = tlsresume.RedisStore(url, timeout=TIMEOUT, retry_after=0)
    tlsresume.attach(ctx, store)
    with pytest.warns(RuntimeWarning, match="unavailable") as w:
        r, took = timed_get(srv.port, ctx)
    assert r["reused"] is False and took < TIMEOUT + 1.0
    assert all("wrong" not in str(x.message) for x in w)    # no password
    store.close()


@pytest.mark.parametrize("where", ["unreachable", "silent"])
def test_unreachable_or_silent_redis_waits_no_longer_than_timeout(
        py_server, certs, where):
    srv = py_server("tls12-ticket")
    silent = None
    if where == "silent":       # accepts, never answers: a hung Redis
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = "redis://127.0.0.1:%d/0" % silent.getsockname()[1]
    else:                       # TEST-NET-1: no one answers there
        url = "redis://192.0.2.1:6379/0"
    ctx = ssl.create_default_context(cafile=certs[0])
    store = tlsresume.RedisStore(url, timeout=TIMEOUT, retry_after=0)
    tlsresume.attach(ctx, store)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for _ in range(2):
            r, took = timed_get(srv.port, ctx)
            assert r["reused"] is False
            assert took < 2 * TIMEOUT + 1.0, took
        t = time.monotonic()
        assert store.get("localhost", srv.port, ctx) is None
        assert store.take("localhost", srv.port, ctx) is None
        assert time.monotonic() - t < 2 * TIMEOUT + 0.5
    assert any("unavailable" in str(x.message) for x in w)
    store.close()
    if silent is not None:
        silent.close()


def fresh_session(port, cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as c:
            c.sendall(b"GET / HTTP/1.0\r\n\r\n")
            while c.recv(65536):
                pass
            return c.session, ctx


@pytest.mark.parametrize("mode", ["tls12-ticket", "tls13"])
def test_unusable_values_are_misses(redis_server, py_server, certs, mode):
    srv = py_server(mode)
    sess, ctx = fresh_session(srv.port, certs[0])
    a = tlsresume.RedisStore(redis_server.url, seal_key=b"a" * 32,
                             ssl_context=ctx)
    b = tlsresume.RedisStore(redis_server.url, seal_key=b"b" * 32,
                             ssl_context=ctx)
    plain = tlsresume.RedisStore(redis_server.url, ssl_context=ctx)
    r = redis.Redis(port=redis_server.port, password=redis_server.password)
    key = "tlsresume:" + tlsresume._core.entry_key("localhost", srv.port, "")
    k = key if mode == "tls13" else key + ":s"

    def value():
        return r.lindex(k, 0) if mode == "tls13" else r.get(k)

    def set_value(v):
        r.delete(k)
        if mode == "tls13":
            r.lpush(k, v)
        else:
            r.set(k, v)

    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        # sealed under another key; unsealed in a sealed store
        a.put("localhost", srv.port, sess)
        good = value()
        assert b.get("localhost", srv.port) is None
        assert plain.take("localhost", srv.port) is None
        # tampered: one bit anywhere
        for i in range(0, len(good), max(1, len(good) // 25)):
            bad = bytearray(good)
            bad[i] ^= 1
            set_value(bytes(bad))
            assert a.take("localhost", srv.port) is None
        # not ours at all, or another key's entry under ours
        for junk in [b"", b"hello", b"\x00" * 5000, b"tlsresume-store-entry 1\n"]:
            set_value(junk)
            assert a.get("localhost", srv.port) is None
            assert a.take("localhost", srv.port) is None
        a.put("localhost", srv.port + 1, sess)
        other = "tlsresume:" + tlsresume._core.entry_key(
            "localhost", srv.port + 1, "")
        moved = (r.lindex(other, 0) if mode == "tls13"
                 else r.get(other + ":s"))
        set_value(moved)
        assert a.get("localhost", srv.port) is None
        assert a.take("localhost", srv.port) is None
        # a value of another type under our keys
        r.delete(k)
        r.hset(key, "x", "y")
        r.hset(key + ":s", "x", "y")
        assert a.get("localhost", srv.port) is None
        assert a.take("localhost", srv.port) is None
        assert a.put("localhost", srv.port, sess) is False
        assert r.hget(key, "x") == b"y"         # left alone
    r.delete(key, key + ":s")
    a.put("localhost", srv.port, sess)
    assert a.take("localhost", srv.port) is not None   # and still works


def test_writer_thread_survives_redis_outage_and_process_exit_is_quick(
        redis_server, py_server, certs):
    # Captures queued while Redis is down are dropped after one warning;
    # close() returns within a bounded time.
    srv = py_server("tls13")
    ctx = ssl.create_default_context(cafile=certs[0])
    store = tlsresume.RedisStore(redis_server.url, timeout=TIMEOUT,
                                 retry_after=0)
    tlsresume.attach(ctx, store)
    redis_server.kill()
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        for _ in range(3):
            https_get(srv.port, ctx)
        t = time.monotonic()
        store.close()
    assert time.monotonic() - t < 10 * TIMEOUT + 1.5
    assert threading.active_count() < 50
