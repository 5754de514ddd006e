#!/usr/bin/env python3
"""Redis store bench (figures, not a test).

1. Per operation, in the same run against one local redis-server: RedisStore
   put / get / take next to raw redis-py SET / GET / LPUSH+LPOP of the same
   entry bytes, and the session decode alone (goal: within 1.2x of raw plus
   the decode).
2. Cold start: N fresh client processes, alternating between two "machines"
   (separate working directories, nothing shared but Redis), one HTTPS GET
   each to one openssl s_server: full handshakes (the server's own word)
   and median process time, with and without the shared Redis store.

usage: python3 bench/redis_bench.py [--seconds S] [--procs N]
"""
import argparse
import os
import re
import secrets
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import redis

import tlsresume

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CERT = os.path.join(ROOT, "tests", "vectors", "certs", "ec.crt")
KEY = os.path.join(ROOT, "tests", "vectors", "certs", "ec.key")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis():
    port, pw = free_port(), secrets.token_hex(8)
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--requirepass", pw, "--save", "", "--appendonly", "no",
         "--daemonize", "no"], stdout=subprocess.DEVNULL)
    url = "redis://:%s@127.0.0.1:%d/0" % (pw, port)
    c = redis.Redis.from_url(url)
    for _ in range(200):
        try:
            c.ping()
            return proc, url
        except redis.RedisError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def start_s_server(version):
    p = subprocess.Popen(
        ["openssl", "s_server", "-accept", "127.0.0.1:0", "-www", "-cert",
         CERT, "-key", KEY, "-tls1_3" if version == "1.3" else "-tls1_2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    port = [None]
    ready = threading.Event()

    def drain():
        for line in p.stdout:
            m = re.search(r"ACCEPT 127\.0\.0\.1:(\d+)", line)
            if m and port[0] is None:
                port[0] = int(m.group(1))
                ready.set()
    threading.Thread(target=drain, daemon=True).start()
    ready.wait(10)
    return p, port[0]


def client_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def fresh_session(port):
    ctx = client_ctx()
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as c:
            c.sendall(b"GET / HTTP/1.0\r\n\r\n")
            while c.recv(65536):
                pass
            return c.session, ctx


def calibrate(fn, seconds):
    """Calls per batch for about seconds / 5."""
    n, t = 1, 0.0
    while t < 0.02:
        n *= 2
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        t = time.perf_counter() - t0
    return max(1, int(n * (seconds / 5) / t))


def interleaved(fns, seconds):
    """{name: fastest per-call time} over 5 rounds in which every fn runs
    one batch in turn: noise from other processes falls on all alike."""
    sizes = {k: calibrate(f, seconds) for k, f in fns.items()}
    best = {}
    for _ in range(5):
        for k, f in fns.items():
            t0 = time.perf_counter()
            for _ in range(sizes[k]):
                f()
            dt = (time.perf_counter() - t0) / sizes[k]
            best[k] = min(best.get(k, dt), dt)
    return best


def ops(url, seconds):
    print("== per operation (microseconds; fastest of 5 interleaved batches)")
    for version in ("1.2", "1.3"):
        srv, port = start_s_server(version)
        try:
            sess, ctx = fresh_session(port)
            store = tlsresume.RedisStore(url, ssl_context=ctx, timeout=2,
                                         max_tickets=8)
            raw = redis.Redis.from_url(url)
            data, _, kind = store._codec.encode("localhost", port, "", sess)
            k = "bench:raw"
            store.put("localhost", port, sess)
            fns = {
                "put": lambda: store.put("localhost", port, sess),
                "raw SET": lambda: raw.set(k, data),
                "get": lambda: store.get("localhost", port),
                "raw GET": lambda: raw.get(k),
                "decode": lambda: store._codec.decode(
                    data, "localhost", port, "", ctx),
            }
            if version == "1.3":
                def cycle():
                    store.put("localhost", port, sess)
                    store.take("localhost", port)

                def raw_cycle():
                    raw.lpush(k + "l", data)
                    raw.lpop(k + "l")
                fns["put+take"] = cycle
                fns["raw LPUSH+LPOP"] = raw_cycle
            else:
                fns["take"] = lambda: store.take("localhost", port)
            res = interleaved(fns, seconds)
            print("TLS %s (entry %d bytes):" % (version, len(data)))
            for name, v in res.items():
                print("  %-16s %8.1f" % (name, v * 1e6))
            put_ratio = res["put"] / (res["raw SET"] + res["decode"])
            get_ratio = res["get"] / (res["raw GET"] + res["decode"])
            print("  get / (raw GET + decode) = %.2f;  put / (raw SET + "
                  "decode) = %.2f" % (get_ratio, put_ratio))
            if version == "1.3":
                print("  put+take / (raw LPUSH+LPOP + 2 decode) = %.2f"
                      % (res["put+take"] / (res["raw LPUSH+LPOP"]
                                            + 2 * res["decode"])))
            store.close()
            raw.flushall()
        finally:
            srv.kill()


CHILD = r"""
import os, socket, ssl, sys, time
t0 = time.perf_counter()
c0 = time.process_time()
port, url = int(sys.argv[1]), sys.argv[2]
os.chdir(sys.argv[3])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
store = None
if url != "-":
    import tlsresume
    store = tlsresume.RedisStore(url)
    tlsresume.attach(ctx, store)
t1 = time.perf_counter()
with socket.create_connection(("127.0.0.1", port)) as raw:
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with ctx.wrap_socket(raw, server_hostname="localhost") as c:
        c.sendall(b"GET / HTTP/1.0\r\n\r\n")
        page = b""
        while True:
            d = c.recv(65536)
            if not d:
                break
            page += d
conn = time.perf_counter() - t1
if store is not None:
    store.close()
print("reused" if b"\nReused, " in page else "new",
      time.perf_counter() - t0, time.process_time() - c0, conn)
"""


def cold_start(url, procs):
    print("== cold start: %d fresh processes on two machines, one server"
          % procs)
    machines = [tempfile.mkdtemp(), tempfile.mkdtemp()]
    for version in ("1.2", "1.3"):
        srv, port = start_s_server(version)
        try:
            for label, u in (("no store", "-"), ("shared Redis", url)):
                redis.Redis.from_url(url).flushall()
                full, wall, cpu, conn = 0, [], [], []
                for i in range(procs):
                    out = subprocess.run(
                        [sys.executable, "-c", CHILD, str(port), u,
                         machines[i % 2]], capture_output=True, text=True,
                        check=True).stdout.split()
                    full += out[0] == "new"
                    wall.append(float(out[1]))
                    cpu.append(float(out[2]))
                    conn.append(float(out[3]))
                print("TLS %s %-13s full handshakes %2d/%d; median: "
                      "connection (take + handshake + GET) %.2f ms, script "
                      "%.1f ms wall / %.1f ms CPU (imports, Redis connect, "
                      "close)" % (version, label + ":", full, procs,
                                  statistics.median(conn) * 1e3,
                                  statistics.median(wall) * 1e3,
                                  statistics.median(cpu) * 1e3))
        finally:
            srv.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--procs", type=int, default=20)
    a = ap.parse_args()
    proc, url = start_redis()
    try:
        print("redis-server %s, redis-py %s, tlsresume %s" % (
            redis.Redis.from_url(url).info()["redis_version"],
            redis.__version__, tlsresume.__version__))
        ops(url, a.seconds)
        cold_start(url, a.procs)
    finally:
        proc.kill()


if __name__ == "__main__":
    main()
