#!/usr/bin/env python3
"""Round trips made visible (issue 13): time to the first response byte of a
fresh process, through a user-space TCP proxy on 127.0.0.1 that delays
every chunk by a fixed one-way delay (tc netem is not available here).

nginx (TLS 1.2 and 1.3, ssl_early_data on) sits behind the proxy.  For
each client library (http.client, requests, httpx) and TLS version, a new
Python process per request measures from before connect() to the first
byte of the response: full handshake (empty store), resumed (attach()),
and on TLS 1.3 resumed with 0-RTT (attach(early_data=True)).  Printed in
ms and in RTT units (RTT = 2 x delay).  A user-space proxy cannot delay the
TCP handshake (the kernel completes it on accept): one RTT is added to the
measured time for it.  Physical minimum with TCP:
TLS 1.3 full 3 RTT, 0-RTT 2 RTT; TLS 1.2 full 4 RTT, resumed 3 RTT
(connect 1, handshake 2 or 1, request 1; 1.3 resumed without early data
is 3 like full).

usage: python3 bench/latency.py [--delay-ms 25] [--runs 5]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))

from delay_proxy import DelayProxy  # noqa: E402


CLIENT = r"""
import socket, ssl, sys, time
t0 = time.perf_counter()
import tlsresume
lib, port, ca, store, tls, early, delay = sys.argv[1:8]
delay = float(delay)
if lib == "http.client":
    import http.client
elif lib == "requests":
    import requests
else:
    import httpx
ctx = ssl.create_default_context(cafile=ca)
v = ssl.TLSVersion.TLSv1_3 if tls == "1.3" else ssl.TLSVersion.TLSv1_2
ctx.minimum_version = ctx.maximum_version = v
st = tlsresume.SessionStore(store)
tlsresume.attach(ctx, st, early_data=early == "1")
url = "https://localhost:%s/" % port
# Clients are built before the clock starts: only the connection counts.
if lib == "requests":
    s = tlsresume.requests_session(st, ctx, early_data=early == "1")
elif lib == "httpx":
    c = httpx.Client(verify=ctx)
t1 = time.perf_counter()
if lib == "http.client":
    c = http.client.HTTPSConnection("localhost", int(port), context=ctx)
    c.request("GET", "/")
    r = c.getresponse()
    first = time.perf_counter()
    r.read()
    c.close()
elif lib == "requests":
    r = s.get(url, stream=True)
    first = time.perf_counter()
    r.content
else:
    with c.stream("GET", url) as r:
        first = time.perf_counter()
        r.read()
    c.close()
hdr = r.getheader("X-Early") if lib == "http.client" else \
    r.headers.get("X-Early")
print("%.6f %s" % (first - t1, hdr or "-"))
"""


def run_client(lib, port, ca, store, tls, early, delay):
    out = subprocess.run([sys.executable, "-c", CLIENT, lib, str(port),
                          ca, store, tls, "1" if early else "0", str(delay)],
                         capture_output=True, text=True, check=True).stdout
    t, early_hdr = out.split()
    return float(t), early_hdr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--delay-ms", type=float, default=25.0)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    delay = a.delay_ms / 1000
    rtt = 2 * delay
    from test_early_data import Nginx, free_port
    from pathlib import Path
    minimum = {("1.2", "full"): 4, ("1.2", "resumed"): 3,
               ("1.3", "full"): 3, ("1.3", "resumed"): 3,
               ("1.3", "0-RTT"): 2}
    print("time to first response byte, fresh process, one-way delay %.0f ms"
          " (RTT %.0f ms), median of %d, + 1 RTT for the TCP handshake"
          % (a.delay_ms, rtt * 1e3, a.runs))
    print("  %-12s %-4s %-8s %9s %7s %5s %s" % ("client", "TLS", "session",
                                               "ms", "RTT", "min",
                                               "server early"))
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        cert, key = d / "c.pem", d / "k.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-keyout", str(key), "-out", str(cert),
                        "-days", "1", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True)
        (d / "ng").mkdir()
        srv = Nginx(d / "ng", (cert, key), free_port(), True)
        proxy = DelayProxy(srv.port, delay)
        try:
            for lib in ("http.client", "requests", "httpx"):
                for tls in ("1.2", "1.3"):
                    modes = ["full", "resumed"] + (["0-RTT"] if tls == "1.3"
                                                   else [])
                    for mode in modes:
                        ts, hdrs = [], set()
                        for i in range(a.runs):
                            # A fresh store per run, filled by one full
                            # handshake: nginx issues no ticket on a
                            # connection that used early data, and tickets
                            # are single use.
                            store = str(d / ("st-%s-%s-%s-%d"
                                             % (lib, tls, mode, i)))
                            if mode != "full":
                                run_client(lib, proxy.port, str(cert), store,
                                           tls, mode == "0-RTT", delay)
                            t, h = run_client(lib, proxy.port, str(cert),
                                              store, tls, mode == "0-RTT",
                                              delay)
                            ts.append(t)
                            hdrs.add(h)
                            if os.environ.get("LATENCY_DEBUG"):
                                print("    run", i, "%.1f ms" % (t * 1e3), h)
                        m = statistics.median(ts) + rtt     # + TCP
                        print("  %-12s %-4s %-8s %9.1f %7.2f %5d %s" % (
                            lib, tls, mode, m * 1e3, m / rtt,
                            minimum[(tls, mode)], ",".join(sorted(hdrs))))
        finally:
            proxy.close()
            srv.stop()


if __name__ == "__main__":
    main()
