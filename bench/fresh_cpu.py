#!/usr/bin/env python3
"""CPU of a fresh process, measured the way a user runs it (issue 13):
attach() + SessionStore, CPU from wrap_socket() to the end of the handshake
(store take, restore, handshake) with a stored session against none.

Each run is a new Python process against a local openssl s_server -www
(RSA-2048).  The child also times the phases inside that window with
CLOCK_PROCESS_CPUTIME_ID (perf is not available here): the store take, the
rest of attach()'s preparation (keying, keeping the session's certificate
bytes and trust record on the SSL, CPython's session setter, which copies
the session through i2d/d2i) and the handshake proper.

usage: python3 bench/fresh_cpu.py [--runs N] [--decode-peer]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading

CHILD = r"""
import json, os, socket, ssl, sys, time
T = time.process_time_ns
port, ca, store_dir, tls, decode = sys.argv[1:6]
import tlsresume
from tlsresume import _attach
ctx = ssl.create_default_context(cafile=ca)
v = ssl.TLSVersion.TLSv1_3 if tls == "1.3" else ssl.TLSVersion.TLSv1_2
ctx.minimum_version = ctx.maximum_version = v
store = tlsresume.SessionStore(store_dir, decode_peer=decode == "1")
tlsresume.attach(ctx, store)
ph = {"take": 0, "prepare": 0}
take = store._take_lean
def timed_take(*a, **k):
    t = T(); r = take(*a, **k); ph["take"] = T() - t; return r
store._take_lean = timed_take
prepare = _attach._prepare
def timed_prepare(*a):
    t = T(); r = prepare(*a); ph["prepare"] = T() - t; return r
_attach._prepare = timed_prepare
raw = socket.create_connection(("127.0.0.1", int(port)))
raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
t0 = T()
s = ctx.wrap_socket(raw, server_hostname="localhost")
t1 = T()
reused = s.session_reused
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
while s.recv(65536):
    pass
s.close()
print(json.dumps({"cpu": (t1 - t0) / 1e3, "take": ph["take"] / 1e3,
                  "prep": (ph["prepare"] - ph["take"]) / 1e3,
                  "hs": (t1 - t0 - ph["prepare"]) / 1e3, "reused": reused}))
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


def child(port, cert, store, tls, decode):
    r = subprocess.run([sys.executable, "-c", CHILD, str(port), cert, store,
                        tls, "1" if decode else "0"],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--decode-peer", action="store_true",
                    help="restore with the certificate decoded (before 0.2)")
    a = ap.parse_args()
    med = statistics.median
    print("fresh process, attach() + SessionStore(decode_peer=%s), CPU from "
          "wrap_socket() to the end of the handshake, median of %d (us)"
          % (a.decode_peer, a.runs))
    print("  %-4s %-7s %8s %8s %8s %8s %7s" % ("TLS", "session", "total",
                                             "take", "prep", "hshake",
                                             "reused"))
    with tempfile.TemporaryDirectory() as d:
        cert, key = make_cert(d)
        for tls, flag in (("1.2", "-tls1_2"), ("1.3", "-tls1_3")):
            srv, port = start_s_server(cert, key, flag)
            try:
                res = {}
                for mode in ("none", "stored"):
                    rs = []
                    for i in range(a.runs):
                        st = os.path.join(d, "st-%s-%s" % (tls, mode))
                        if mode == "none":
                            st += "-%d" % i
                        elif i == 0:        # a full handshake fills it
                            child(port, cert, st, tls, a.decode_peer)
                        rs.append(child(port, cert, st, tls, a.decode_peer))
                    res[mode] = rs
                    print("  %-4s %-7s %8.0f %8.0f %8.0f %8.0f %4d/%d" % (
                        tls, mode, med(r["cpu"] for r in rs),
                        med(r["take"] for r in rs),
                        med(r["prep"] for r in rs),
                        med(r["hs"] for r in rs),
                        sum(r["reused"] for r in rs), a.runs))
                print("  TLS %s stored/none = %.2f" % (
                    tls, med(r["cpu"] for r in res["stored"])
                    / med(r["cpu"] for r in res["none"])))
            finally:
                srv.kill()
                srv.wait()


if __name__ == "__main__":
    main()
