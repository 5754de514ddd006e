#!/usr/bin/env python3
"""Python bench (figures, not a test).

1. tlsresume.loads(tlsresume.dumps(s)) against raw i2d_SSL_SESSION /
   d2i_SSL_SESSION called through ctypes on the SAME libssl in the same run
   (target: binding overhead within 10%).
2. A NEW process making one HTTPS-like request to a local openssl s_server,
   with a stored session vs without: client CPU and wall time per
   connection (median over runs), TLS 1.2 and TLS 1.3.

usage: python3 bench/python_bench.py [--seconds S] [--runs N]
"""
import argparse
import ctypes
import json
import os
import re
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import tlsresume
from tlsresume import _core


def timeit(fn, seconds):
    """Fastest per-call time (s) of 5 batches of ~seconds/5 each (the
    least disturbed by other processes on a shared machine)."""
    n = 1
    while True:                         # calibrate
        t = time.perf_counter()
        fn(n)
        dt = time.perf_counter() - t
        if dt > 0.05:
            break
        n *= 2
    per_batch = max(1, int(n * (seconds / 5) / dt))
    samples = []
    for _ in range(5):
        t = time.perf_counter()
        fn(per_batch)
        samples.append((time.perf_counter() - t) / per_batch)
    return min(samples)


def raw_libssl():
    lib = ctypes.CDLL(_core.libssl_path())
    lib.i2d_SSL_SESSION.argtypes = [ctypes.c_void_p,
                                    ctypes.POINTER(ctypes.c_char_p)]
    lib.i2d_SSL_SESSION.restype = ctypes.c_int
    lib.d2i_SSL_SESSION.argtypes = [ctypes.c_void_p,
                                    ctypes.POINTER(ctypes.c_char_p),
                                    ctypes.c_long]
    lib.d2i_SSL_SESSION.restype = ctypes.c_void_p
    lib.SSL_SESSION_free.argtypes = [ctypes.c_void_p]
    return lib


def micro(der, seconds, label):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    lib = raw_libssl()
    p = ctypes.c_char_p(der)
    sess = lib.d2i_SSL_SESSION(None, ctypes.byref(p), len(der))
    assert sess
    size = lib.i2d_SSL_SESSION(sess, None)
    buf = ctypes.create_string_buffer(size)
    i2d, d2i, free = (lib.i2d_SSL_SESSION, lib.d2i_SSL_SESSION,
                      lib.SSL_SESSION_free)

    # What any caller of the raw API does: ask the size, encode, copy to
    # bytes; decode, free.
    def raw_rt(n):
        for _ in range(n):
            i2d(sess, None)
            q = ctypes.c_char_p(ctypes.addressof(buf))
            m = i2d(sess, ctypes.byref(q))
            out = buf.raw[:m]           # bytes, as dumps() returns
            r = ctypes.c_char_p(out)
            s2 = d2i(None, ctypes.byref(r), m)
            free(s2)

    s = tlsresume.loads(der, ctx)
    dumps, loads = tlsresume.dumps, tlsresume.loads

    def tr_rt(n):
        for _ in range(n):
            loads(dumps(s), ctx)

    def tr_dumps(n):
        for _ in range(n):
            dumps(s)

    def raw_i2d(n):
        for _ in range(n):
            i2d(sess, None)
            q = ctypes.c_char_p(ctypes.addressof(buf))
            m = i2d(sess, ctypes.byref(q))
            buf.raw[:m]

    def tr_inspect(n):
        for _ in range(n):
            tlsresume.inspect(s)

    def raw_d2i(n):
        for _ in range(n):
            r = ctypes.c_char_p(der)
            free(d2i(None, ctypes.byref(r), len(der)))

    def tr_loads(n):
        for _ in range(n):
            loads(der, ctx)

    rows = []
    for name, a, b in (("round trip", raw_rt, tr_rt),
                       ("serialize", raw_i2d, tr_dumps),
                       ("restore", raw_d2i, tr_loads)):
        ta, tb = [], []
        for _ in range(2):              # interleaved against drift
            ta.append(timeit(a, seconds / 2))
            tb.append(timeit(b, seconds / 2))
        rows.append((name, min(ta), min(tb)))
    ti = timeit(tr_inspect, seconds)
    free(sess)
    print("\n%s session (%d bytes DER):" % (label, len(der)))
    print("  %-11s %14s %14s %9s" % ("", "raw ctypes", "tlsresume",
                                      "overhead"))
    for name, ta, tb in rows:
        print("  %-11s %11.2f us %11.2f us %+8.1f%%"
              % (name, ta * 1e6, tb * 1e6, (tb / ta - 1) * 100))
    print("  %-11s %14s %11.2f us" % ("inspect", "", ti * 1e6))
    return rows


CLIENT = r"""
import json, os, socket, ssl, sys, time
c0 = time.process_time(); t0 = time.perf_counter()
import tlsresume
port, ca, sess_in, sess_out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
c1 = time.process_time(); t1 = time.perf_counter()
s = tlsresume.loads(open(sess_in, "rb").read(), ctx) if sess_in != "-" else None
c2 = time.process_time()
raw = socket.create_connection(("127.0.0.1", port))
# As HTTP clients do (urllib3): else Nagle + delayed ACK add 40 ms to a
# resumed TLS 1.2 handshake (client Finished and request in two writes).
raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
with ctx.wrap_socket(raw, server_hostname="localhost", session=s,
                     do_handshake_on_connect=False) as c:
    c3 = time.process_time()
    c.do_handshake()
    c4 = time.process_time()
    c.sendall(b"GET / HTTP/1.0\r\n\r\n")
    while c.recv(65536):
        pass
    reused = c.session_reused
    if sess_out != "-":  # a fresh name in our 0700 temporary directory
        fd = os.open(sess_out, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                     | os.O_NOFOLLOW, 0o600)
        os.write(fd, tlsresume.dumps(c.session))
        os.close(fd)
c5 = time.process_time(); t5 = time.perf_counter()
print(json.dumps({"reused": reused, "conn_cpu": c5 - c1, "conn_wall": t5 - t1,
                  "loads_cpu": c2 - c1, "hs_cpu": c4 - c3,
                  "proc_cpu": c5, "proc_wall": t5 - t0}))
"""


def make_cert(d):
    cert, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                    "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


def start_s_server(cert, key, flag):
    p = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:0",
                          "-www", "-cert", cert, "-key", key, flag],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, text=True)
    for line in p.stdout:
        m = re.search(r"ACCEPT 127\.0\.0\.1:(\d+)", line)
        if m:
            threading.Thread(target=lambda: p.stdout.read(),
                             daemon=True).start()
            return p, int(m.group(1))
    p.kill()
    raise RuntimeError("s_server did not start")


def one(port, cert, sess_in, sess_out="-"):
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", CLIENT, str(port), cert,
                        sess_in, sess_out], capture_output=True, text=True,
                       check=True)
    out = json.loads(r.stdout)
    out["spawn_wall"] = time.perf_counter() - t
    return out


def connections(runs):
    med = statistics.median
    with tempfile.TemporaryDirectory() as d:
        cert, key = make_cert(d)
        print("\nNew process, one request to openssl s_server (RSA-2048), "
              "median of %d:" % runs)
        print("  conn = loads (if stored) + connect + handshake + request + "
              "reply; CPU of the client process")
        print("  %-4s %-7s %10s %10s %10s %10s %12s %7s" % (
            "TLS", "session", "conn CPU", "loads CPU", "hshake CPU",
            "conn wall", "process wall", "reused"))
        for tls, flag in (("1.2", "-tls1_2"), ("1.3", "-tls1_3")):
            srv, port = start_s_server(cert, key, flag)
            try:
                sess = os.path.join(d, "s%s.der" % tls)
                one(port, cert, "-", sess)
                res = {}
                for mode in ("none", "stored"):
                    rs = [one(port, cert, "-" if mode == "none" else sess)
                          for _ in range(runs)]
                    res[mode] = rs
                    print("  %-4s %-7s %7.2f ms %7.2f ms %7.2f ms %7.2f ms "
                          "%9.1f ms %4d/%d"
                          % (tls, mode, med(r["conn_cpu"] for r in rs) * 1e3,
                             med(r["loads_cpu"] for r in rs) * 1e3,
                             med(r["hs_cpu"] for r in rs) * 1e3,
                             med(r["conn_wall"] for r in rs) * 1e3,
                             med(r["spawn_wall"] for r in rs) * 1e3,
                             sum(r["reused"] for r in rs), runs))
                for what in ("conn_cpu", "hs_cpu"):
                    a = med(r[what] for r in res["none"])
                    b = med(r[what] for r in res["stored"])
                    print("  TLS %s %s none/stored = %.2f" % (
                        tls, what, a / b if b else float("nan")))
            finally:
                srv.kill()
                srv.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0,
                    help="time per micro measurement")
    ap.add_argument("--runs", type=int, default=15,
                    help="processes per connection measurement")
    a = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    vec = os.path.join(root, "tests", "vectors", "sessions")
    print("tlsresume %s, %s, %s" % (tlsresume.__version__,
                                    ssl.OPENSSL_VERSION,
                                    sys.version.split()[0]))
    full = open(os.path.join(vec, "openssl-tls13-rsa.der"), "rb").read()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    lean = tlsresume.dumps(tlsresume.loads(full, ctx), lean=True)
    micro(full, a.seconds, "TLS 1.3 RSA, with peer certificate")
    micro(lean, a.seconds, "TLS 1.3, lean (no certificate)")
    connections(a.runs)


if __name__ == "__main__":
    main()
