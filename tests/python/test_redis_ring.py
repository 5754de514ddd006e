"""Ticket key rings in Redis (issue 12): two uvicorn instances standing for
two machines resume each other's tickets; concurrent rotators converge;
Redis killed while serving keeps the last keys; a process that never saw
the ring refuses to start.  A real redis-server (redis_support)."""
import concurrent.futures
import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import warnings

import pytest

import tlsresume
from redis_support import free_port, redis_server  # noqa: F401 (fixture)
from conftest import wait_for
from ringutil import MemPair, asgi_server, client_ctx, s_client, server_ctx
from tlsresume import _redis_ring
from tlsresume._redis_ring import RedisTicketKeyRing

V12 = ssl.TLSVersion.TLSv1_2


@pytest.fixture(autouse=True)
def runtime_dir(tmp_path, monkeypatch):
    """Mirrors go to a directory of the test's (XDG_RUNTIME_DIR).  Closed
    rings leave nothing; the mirror of a process that died without exit
    handlers (uvicorn re-raises SIGTERM) goes with the next mirror made."""
    d = tmp_path / "run"
    d.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(d))
    yield d
    for ring in list(_redis_ring._live):
        ring.close()
    left = [p.name for p in d.iterdir()]
    assert not [n for n in left if "-%d-" % os.getpid() in n], left
    shutil.rmtree(_redis_ring._mkdtemp())
    assert not list(d.iterdir())


def stop(srv):
    """SIGTERM (uvicorn exits normally: atexit removes its mirror)."""
    srv.proc.terminate()
    srv.proc.wait(20)
    assert "Traceback" not in srv.output(), srv.output()
    return srv.output()


def keys_cli(*args):
    return subprocess.run([sys.executable, "-m", "tlsresume", "keys"]
                          + [str(a) for a in args], capture_output=True,
                          text=True, timeout=60)


def run_hooked(url, code="print('started')"):
    env = dict(os.environ, TLSRESUME_TICKET_KEYS=url)
    return subprocess.run([sys.executable, "-c", code], env=env,
                          capture_output=True, text=True, timeout=60)


def mirror_bytes(ring):
    return {n: open(os.path.join(ring.path, n), "rb").read()
            for n in sorted(os.listdir(ring.path)) if n.endswith(".key")}


def test_redis_ring_secrets_stay_out_of_reprs_and_messages(redis_server):
    url = redis_server.url
    ring = RedisTicketKeyRing.init(url, period=3600, keep=7200)
    text = repr(ring) + repr(ring.keys()) + keys_cli("show", url).stdout
    assert redis_server.password not in text and ":***@" in text
    for raw in mirror_bytes(ring).values():
        assert raw[16:].hex() not in text and repr(raw[16:48]) not in text
    assert os.stat(ring.path).st_mode & 0o777 == 0o700
    assert all(os.stat(os.path.join(ring.path, n)).st_mode & 0o777 == 0o600
               for n in os.listdir(ring.path))
    # Each key is in Redis as its file's bytes, its TTL its expiry (start
    # + 7 days while it has no successor).
    now = int(time.time())
    for k, (name, raw) in zip(ring.keys(), mirror_bytes(ring).items()):
        rkey = "tlsresume:ring:key:" + name[:16]
        assert redis_server.cli("GET", rkey)[:len(raw)] == raw
        want = (k.expires or k.start + 7 * 86400) - now
        assert abs(int(redis_server.cli("TTL", rkey)) - want) <= 2
    with pytest.raises(tlsresume.Error, match="exists"):
        RedisTicketKeyRing.init(url)
    ring.close()
    assert not os.path.exists(ring.path)


def test_redis_ring_rotates_on_schedule_for_every_process(redis_server,
                                                          certs):
    """Two rings in one process (two mirrors, like two machines), period
    2 s: the sync threads rotate under the lock and agree on every key."""
    url = redis_server.url + "?sync=0.3"
    RedisTicketKeyRing.init(url, period=2, keep=6)
    a, b = RedisTicketKeyRing(url), RedisTicketKeyRing(url)
    first = a.encrypting()
    pair = MemPair(client_ctx(V12))
    ca, cb = server_ctx(certs, V12, a), server_ctx(certs, V12, b)
    _, sess = pair.connect(ca)
    time.sleep(4.5)     # two periods: rotated twice, by one process each
    assert pair.connect(cb, sess)[0] and pair.connect(ca, sess)[0]
    assert a.encrypting() != first

    def same():     # a rotation at a period's start reaches b within sync
        a.reload()
        b.reload()
        return (mirror_bytes(a) == mirror_bytes(b) and
                [k.name for k in a.keys()] == [k.name for k in b.keys()])
    assert wait_for(same, 3)
    # The disk ring's schedule: keys start on the ring's period grid.
    conf = redis_server.cli("GET", "tlsresume:ring:conf").decode()
    origin = int(conf.split("origin ")[1].split()[0])
    assert all((k.start - origin) % 2 == 0 for k in a.keys())
    a.close()
    b.close()


def test_redis_ring_concurrent_rotators_converge(redis_server):
    url = redis_server.url
    keys_cli("init", url).check_returncode()
    procs = [subprocess.Popen([sys.executable, "-m", "tlsresume", "keys",
                               "rotate", url, "--force"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(6)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    told = {o.split("key ")[1].split()[0] for o, _ in outs}
    x, y = (RedisTicketKeyRing(url, background=False) for _ in range(2))
    names = {k.name.hex() for k in x.keys()}
    assert told <= names                    # no key was overwritten
    assert mirror_bytes(x) == mirror_bytes(y)
    for name, raw in mirror_bytes(x).items():
        got = redis_server.cli("GET", "tlsresume:ring:key:" + name[:16])
        assert got[:len(raw)] == raw
    shown = json.loads(keys_cli("show", url, "--json").stdout)
    assert {k["name"] for k in shown["keys"]} == names
    assert len([k for k in shown["keys"] if k["role"] == "encrypt"]) == 1


def test_redis_ring_never_seen_and_unreachable_stops_start_up(redis_server):
    dead = "redis://:%s@127.0.0.1:%d/0" % (redis_server.password,
                                           free_port())
    p = run_hooked(dead)
    line = p.stderr.strip()
    assert p.returncode == 2 and "started" not in p.stdout
    assert line.count("\n") == 0 and redis_server.password not in line
    assert line.startswith("tlsresume: TLSRESUME_TICKET_KEYS=redis://:***@")
    assert "unreachable" in line
    p = run_hooked(redis_server.url)        # reachable, but no ring there
    assert p.returncode == 2 and "keys init" in p.stderr
    p = keys_cli("show", dead)
    assert p.returncode != 0 and "unreachable" in p.stderr
    assert redis_server.password not in p.stderr
    wrong = redis_server.url.replace(redis_server.password, "nope" * 6)
    p = run_hooked(wrong)
    assert p.returncode == 2 and "nope" not in p.stderr


def test_redis_ring_bad_inputs(redis_server):
    for url, shown in (("redis://:pw@h:1/0", "redis://:***@h:1/0"),
                       ("rediss://u:pw@h/0?prefix=p", "rediss://u:***@h/0"
                        "?prefix=p"),
                       ("unix:///run/r.sock?db=0&password=pw",
                        "unix:///run/r.sock?db=0&password=***")):
        assert _redis_ring.redact(url) == shown
    with pytest.raises(TypeError):
        RedisTicketKeyRing(42)
    with pytest.raises(TypeError):
        RedisTicketKeyRing("/not/a/url")
    for bad in ("?sync=abc", "?sync=0", "?timeout=-1"):
        with pytest.raises(tlsresume.Error, match="seconds|sync="):
            RedisTicketKeyRing(redis_server.url + bad)
    with pytest.raises(tlsresume.Error, match="format"):
        RedisTicketKeyRing.init(redis_server.url, format="nope")
    # A value that is not ours under the prefix is a clear error.
    redis_server.cli("SET", "tlsresume:ring:conf", "garbage")
    with pytest.raises(tlsresume.Error, match="malformed"):
        RedisTicketKeyRing(redis_server.url)


def cross(ports, version, tmp, n=100, jobs=8):
    """n connections, each to the other instance than the one that issued
    the session it offers: how many resumed."""
    tmp.mkdir(parents=True, exist_ok=True)
    if version == "1.2":
        first = [tmp / "a.pem", tmp / "b.pem"]
        for port, f in zip(ports, first):
            s_client(port, version, sess_out=f)
        with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
            return sum(ex.map(lambda i: s_client(ports[i % 2], version,
                                                 first[1 - i % 2]),
                              range(n)))

    def chain(j):
        cur = tmp / ("c%d-0.pem" % j)
        s_client(ports[0], version, sess_out=cur)
        hits = 0
        for i in range(n // jobs + (j < n % jobs)):
            nxt = tmp / ("c%d-%d.pem" % (j, i + 1))
            hits += s_client(ports[(i + 1) % 2], version, cur, nxt)
            cur = nxt
        return hits

    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        return sum(ex.map(chain, range(jobs)))


def test_redis_ring_two_uvicorn_machines_resume_each_other(
        redis_server, start_server, certs, tmp_path):
    url = redis_server.url
    keys_cli("init", url).check_returncode()
    a = asgi_server(start_server, "uvicorn", certs, 1, ring=url)
    b = asgi_server(start_server, "uvicorn", certs, 1, ring=url)
    for version in ("1.2", "1.3"):
        hits = cross((a.port, b.port), version, tmp_path / version)
        print("two uvicorn on one Redis ring, TLS %s: %d/100 resumed "
              "across" % (version, hits))
        assert hits >= 99, (version, hits)
    for srv in (a, b):
        stop(srv)


def test_redis_ring_killed_redis_keeps_the_last_keys(
        redis_server, start_server, certs, tmp_path):
    url = redis_server.url + "?sync=0.3&timeout=0.2"
    keys_cli("init", url).check_returncode()
    srv = asgi_server(start_server, "uvicorn", certs, 1, ring=url)
    sess = {}
    for version in ("1.2", "1.3"):
        sess[version] = tmp_path / (version + ".pem")
        assert not s_client(srv.port, version, sess_out=sess[version])
    redis_server.kill()
    time.sleep(1.0)
    for version in ("1.2", "1.3"):
        for i in range(5):
            nxt = tmp_path / ("%s-%d.pem" % (version, i))
            assert s_client(srv.port, version, sess[version], nxt)
            if version == "1.3":
                sess[version] = nxt
    # A process that never saw the ring does not start now.
    p = run_hooked(url)
    assert p.returncode == 2 and "unreachable" in p.stderr
    out = stop(srv)
    assert out.count("serving the last keys") == 1, out


def test_redis_ring_republished_when_redis_comes_back_empty(redis_server):
    url = redis_server.url + "?sync=0.2&timeout=0.2"
    RedisTicketKeyRing.init(url)
    ring = RedisTicketKeyRing(url)
    before = mirror_bytes(ring)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        redis_server.kill()
        time.sleep(0.6)
        redis_server.start()                # same port, empty
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not redis_server.cli(
                "EXISTS", "tlsresume:ring:conf").strip() == b"1":
            time.sleep(0.1)
    assert redis_server.cli("EXISTS", "tlsresume:ring:conf").strip() == b"1"
    msgs = [str(x.message) for x in w]
    assert any("serving the last keys" in m for m in msgs), msgs
    other = RedisTicketKeyRing(url, background=False)
    assert mirror_bytes(other) == before == mirror_bytes(ring)
    ring.close()
