"""tlsresume.server.session_cache(ctx, RedisStore(...)): server processes
on different ports (two "machines") resume each other's session IDs (TLS
1.2) and stateful tickets (TLS 1.3) through one real redis-server, by
the servers' own report.  Redis killed, back empty, refusing the password,
unreachable or silent: every connection succeeds, with a full handshake
and one warning, and no handshake waits past the lookup timeout.  Values
that are not usable are misses."""
import os
import socket
import ssl
import subprocess
import sys
import threading
import time

import pytest

import tlsresume
import tlsresume.server
from conftest import HELPERS, server_reports, wait_for
from redis_support import RedisServer, free_port, redis_server  # noqa: F401

pytest.importorskip("redis")

CONNECTIONS = 20
WARNING = "tlsresume: server session cache"


def start_machines(start_server, certs, mode, url, n=2, env=None,
                   lookup_timeout="1"):
    """n cache_server.py processes, each on its own port, one Redis.  The
    lookup timeout is generous here (a loaded test machine): the fault
    tests below use the default."""
    cert, key = certs
    env = dict(env or os.environ, TLSR_TEST_LOOKUP_TIMEOUT=lookup_timeout)
    return [start_server([sys.executable, str(HELPERS / "cache_server.py"),
                          str(cert), str(key), mode, url],
                         r"^PORT (\d+)", env) for _ in range(n)]


def connect(ctx, port, session):
    """One connection; (server's report, session, seconds taken)."""
    t = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        s = ctx.wrap_socket(raw, server_hostname="localhost",
                            session=session)
        line = s.makefile("rb").readline()
        got = s.session
        s.unwrap()          # close_notify: the session stays resumable
    return line, got, time.monotonic() - t


def run_clients(ports, cafile, n=CONNECTIONS):
    """n connections spread over ports in turn, each offering the newest
    session it has; the seconds each took."""
    ctx = ssl.create_default_context(cafile=str(cafile))
    session, took = None, []
    for i in range(n):
        _, new, t = connect(ctx, ports[i % len(ports)], session)
        session = new if new is not None else session
        took.append(t)
    return took


def reports(*servers):
    out = []
    for s in servers:
        out += [dict(r, port=s.port) for r in server_reports(s)]
    return out


def values(redis_server, prefix="tlsresume:"):
    keys = redis_server.cli("--scan", "--pattern", prefix + "*").split()
    return {k: redis_server.cli("GET", k.decode()) for k in keys}


@pytest.mark.parametrize("mode", ["tls12", "tls13"])
def test_two_machines_resume_each_other_through_redis(
        redis_server, start_server, certs, mode):
    a, b = start_machines(start_server, certs, mode, redis_server.url)
    run_clients([a.port, b.port], certs[0])
    assert wait_for(lambda: len(reports(a, b)) == CONNECTIONS)
    rs = reports(a, b)
    assert all("error" not in r for r in rs), rs
    assert {r["version"] for r in rs} == {"TLSv1.2" if mode == "tls12"
                                          else "TLSv1.3"}
    # Every connection after the first resumed, on whichever machine.
    assert [r["reused"] for r in rs].count(False) == 1, rs
    assert {r["port"] for r in rs if r["reused"]} == {a.port, b.port}


def test_entries_are_store_entries_with_their_expiry_as_ttl(
        redis_server, start_server, certs, tmp_path):
    (a,) = start_machines(start_server, certs, "tls12", redis_server.url,
                          n=1)
    run_clients([a.port], certs[0], n=1)
    assert wait_for(lambda: len(values(redis_server)) == 1)
    (key, value), = values(redis_server).items()
    assert len(key) == len("tlsresume:") + 64
    # The header and PEM block of a store file: openssl reads the block.
    assert b"-----BEGIN SSL SESSION PARAMETERS-----" in value
    pem = value[value.index(b"-----BEGIN"):]
    out = subprocess.run(["openssl", "sess_id", "-noout", "-text"],
                         input=pem, capture_output=True, check=True).stdout
    assert b"TLSv1.2" in out
    ttl = int(redis_server.cli("PTTL", key.decode()))
    timeout = 7200      # OpenSSL's default server session timeout
    assert (timeout - 60) * 1000 < ttl <= timeout * 1000


def test_sealed_entries_and_another_seal_key_is_a_miss(
        redis_server, start_server, certs):
    key = bytes(range(32))
    env = dict(os.environ, TLSR_TEST_SEAL_KEY=key.hex())
    a, b = start_machines(start_server, certs, "tls12", redis_server.url,
                          env=env)
    other = dict(os.environ, TLSR_TEST_SEAL_KEY=bytes(32).hex())
    (c,) = start_machines(start_server, certs, "tls12", redis_server.url,
                          n=1, env=other)
    run_clients([a.port, b.port], certs[0], n=6)
    assert wait_for(lambda: len(reports(a, b)) == 6)
    assert [r["reused"] for r in reports(a, b)].count(False) == 1
    vals = values(redis_server)
    assert vals and all(b"SSL SESSION" not in v for v in vals.values())
    # The machine with another seal key cannot open them: full handshakes.
    run_clients([a.port, c.port], certs[0], n=4)
    assert wait_for(lambda: len(reports(c)) == 2)
    assert [r["reused"] for r in reports(c)] == [False, False]
    assert wait_for(lambda: WARNING in c.output())


def tamper(redis_server, how):
    for k, v in values(redis_server).items():
        if how == "flip":
            i = v.index(b"-----BEGIN") + 60
            v = v[:i] + bytes([v[i] ^ 1]) + v[i + 1:]
            redis_server.cli("SET", k.decode(), v.decode("latin-1"))
        elif how == "foreign":
            redis_server.cli("SET", k.decode(), "not a session")
        elif how == "list":
            redis_server.cli("DEL", k.decode())
            redis_server.cli("RPUSH", k.decode(), "x")
        elif how == "huge":
            redis_server.cli("SETRANGE", k.decode(), 300000, "x")


@pytest.mark.parametrize("how", ["flip", "foreign", "list", "huge"])
def test_unusable_values_are_misses(redis_server, start_server, certs, how):
    a, b = start_machines(start_server, certs, "tls12", redis_server.url)
    ctx = ssl.create_default_context(cafile=str(certs[0]))
    _, sess, _ = connect(ctx, a.port, None)
    assert wait_for(lambda: len(values(redis_server)) == 1)
    tamper(redis_server, how)
    line, _, _ = connect(ctx, b.port, sess)     # b must look in Redis
    assert b'"reused": false' in line
    # b still serves and resumes what it makes itself.
    _, sess, _ = connect(ctx, b.port, None)
    assert wait_for(lambda: len(reports(b)) == 2)
    line, _, _ = connect(ctx, a.port, sess)
    assert b'"reused": true' in line


# ---- faults: in one process, to time each handshake ----

class Server:
    """A TLS 1.2 server thread (tickets off) with its cache on a
    RedisStore; records session_reused per connection."""

    def __init__(self, certs, store, lookup_timeout=0.01):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(*certs)
        self.ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        self.ctx.options |= ssl.OP_NO_TICKET
        tlsresume.server.session_cache(self.ctx, store,
                                       lookup_timeout=lookup_timeout)
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.port = self.lsock.getsockname()[1]
        self.reused, self.errors = [], []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                raw, _ = self.lsock.accept()
            except OSError:
                return
            try:
                with self.ctx.wrap_socket(raw, server_side=True) as c:
                    tlsresume.server.flush(self.ctx, 2)
                    self.reused.append(c.session_reused)
                    c.sendall(b"{}\n")
                    c.unwrap()
            except (ssl.SSLError, OSError) as e:
                self.errors.append(repr(e))

    def close(self):
        self.lsock.close()


def client_ctx(certs):
    return ssl.create_default_context(cafile=str(certs[0]))


def test_redis_killed_mid_run_then_back_empty(redis_server, certs,
                                              recwarn):
    store = tlsresume.RedisStore(redis_server.url, retry_after=0.3)
    # A generous lookup timeout: resuming before the kill must not depend
    # on the machine's load; a killed Redis refuses at once anyway.
    a, b = Server(certs, store, lookup_timeout=1), \
        Server(certs, store, lookup_timeout=1)
    ctx = client_ctx(certs)
    _, sess, _ = connect(ctx, a.port, None)
    _, sess, _ = connect(ctx, b.port, sess)
    assert b.reused == [True]
    redis_server.kill()
    for i in range(6):
        line, new, took = connect(ctx, [a.port, b.port][i % 2], sess)
        sess = new or sess
        assert took < 2.0, took     # a lookup ends by its timeout
    assert not a.errors and not b.errors
    assert wait_for(lambda: any(WARNING in str(w.message) for w in recwarn))
    stats = tlsresume.server.session_cache_stats(a.ctx)
    assert stats["failures"] >= 1 and stats["first_error"]
    redis_server.start()                        # same port, empty
    time.sleep(0.4)                             # retry_after
    _, sess, _ = connect(ctx, a.port, None)

    def resumes():
        nonlocal sess
        line, sess, _ = connect(ctx, b.port, sess)
        return b'"reused": true' in line or b.reused[-1]
    assert wait_for(resumes)
    a.close()
    b.close()


@pytest.mark.parametrize("where", ["wrong-password", "closed-port",
                                   "silent"])
def test_unusable_redis_is_a_warning_and_full_handshakes(
        redis_server, certs, recwarn, where):
    silent = None
    if where == "wrong-password":
        url = "redis://:wrong@127.0.0.1:%d/0" % redis_server.port
    elif where == "closed-port":
        url = "redis://127.0.0.1:%d/0" % free_port()
    else:       # accepts and never answers
        silent = socket.create_server(("127.0.0.1", 0))
        url = "redis://127.0.0.1:%d/0" % silent.getsockname()[1]
    # retry_after 0: every lookup asks Redis again, and each is bounded.
    store = tlsresume.RedisStore(url, timeout=0.1, retry_after=0.001)
    a, b = Server(certs, store, lookup_timeout=0.05), Server(certs, store)
    ctx = client_ctx(certs)
    sess = None
    for i in range(6):
        _, new, took = connect(ctx, [a.port, b.port][i % 2], sess)
        sess = new or sess
        assert took < 2.0, took
    assert a.reused + b.reused == [False] * 6
    assert not a.errors and not b.errors
    warned = [str(w.message) for w in recwarn if WARNING in str(w.message)]
    assert warned
    assert "wrong" not in " ".join(warned)          # no password in it
    if silent is not None:
        silent.close()
    a.close()
    b.close()


def test_start_up_errors_are_clear(certs, redis_server, tmp_path):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    for url in ("rediss://127.0.0.1:6379/0",):
        with pytest.raises(tlsresume.Error, match="not TLS"):
            tlsresume.server.session_cache(ctx, tlsresume.RedisStore(url))
    with pytest.raises(tlsresume.Error, match="cannot resolve"):
        tlsresume.server.session_cache(ctx, tlsresume.RedisStore(
            "redis://no-such-host.invalid:6379/0"))
    store = tlsresume.RedisStore(redis_server.url)
    for bad in (0, -1, 11, float("nan")):
        with pytest.raises(tlsresume.Error):
            tlsresume.server.session_cache(ctx, store, lookup_timeout=bad)
    for bad in ("1", None, True):
        with pytest.raises(TypeError):
            tlsresume.server.session_cache(ctx, store, lookup_timeout=bad)
    with pytest.raises(tlsresume.Error, match="prefix"):
        tlsresume.server.session_cache(ctx, tlsresume.RedisStore(
            redis_server.url, prefix="p" * 201))
    tlsresume.server.session_cache(ctx, store)
    tlsresume.server.session_cache(ctx, store)          # idempotent
    tlsresume.server.session_cache(
        ctx, tlsresume.RedisStore(redis_server.url))    # same Redis, prefix
    with pytest.raises(tlsresume.Error, match="another store"):
        tlsresume.server.session_cache(ctx, tlsresume.RedisStore(
            redis_server.url, prefix="other:"))
    with pytest.raises(tlsresume.Error, match="another store"):
        tlsresume.server.session_cache(ctx, tlsresume.SessionStore(
            tmp_path / "disk"))
    tlsresume.server.session_cache(ctx, None)
    assert tlsresume.server.session_cache_stats(ctx) is None
    assert redis_server.password not in repr(store)


def test_regression_pooled_connections_closed_by_a_restart_are_not_a_failure(
        redis_server, certs, recwarn):
    # Redis restarted: the connections kept from before are closed by it.
    # Dropped before use, they cost neither a miss nor retry_after.
    store = tlsresume.RedisStore(redis_server.url, retry_after=60)
    a, b = Server(certs, store, lookup_timeout=1), \
        Server(certs, store, lookup_timeout=1)
    ctx = client_ctx(certs)
    _, sess, _ = connect(ctx, a.port, None)
    connect(ctx, b.port, sess)
    assert b.reused == [True]
    redis_server.kill()
    redis_server.start()                        # same port, empty
    _, sess, _ = connect(ctx, a.port, None)     # written on a new connection
    connect(ctx, b.port, sess)                  # looked up on a new one
    assert b.reused == [True, True]
    assert tlsresume.server.session_cache_stats(b.ctx)["failures"] == 0
    assert not [w for w in recwarn if WARNING in str(w.message)]
    a.close()
    b.close()


def test_a_host_name_is_resolved_at_start_up(redis_server, certs):
    # Resolved once, by session_cache(); connecting tries each address
    # ("localhost" may be ::1 first; this Redis listens on 127.0.0.1).
    url = "redis://:%s@localhost:%d/0" % (redis_server.password,
                                          redis_server.port)
    store = tlsresume.RedisStore(url)
    a, b = Server(certs, store, lookup_timeout=1), \
        Server(certs, store, lookup_timeout=1)
    ctx = client_ctx(certs)
    _, sess, _ = connect(ctx, a.port, None)
    connect(ctx, b.port, sess)
    assert b.reused == [True]
    a.close()
    b.close()
