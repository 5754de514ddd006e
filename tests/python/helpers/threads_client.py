"""Clients that read and write one attached TLS connection from two threads
(a reader thread in recv while another thread sends), many times in one
process.  Each run has a deadline: a run that does not finish in time is a
hang (its socket is shut down so the process can go on).

With BUSY, another thread keeps the store busy (puts in a loop) meanwhile,
as an application using the store would: a capture that waited for the
store inside the reader's SSL_read would stretch the window in which the
writer races it (OpenSSL connections are not meant for two threads at
once, yet CPython and websockets do so).

Prints JSON: {"ok": n, "hangs": n, "errors": [...], "reused": [...],
"busy_puts": n} (reused: the client's session_reused per run, in order).

usage: threads_client.py KIND PORT CAFILE STORE RUNS [DEADLINE [BUSY]]
KIND: ws (websockets.sync.client), raw (reader thread + writer thread)
"""
import faulthandler
import json
import socket
import ssl
import sys
import threading
import time

import tlsresume

kind, port, cafile, store_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
    sys.argv[4]
runs = int(sys.argv[5])
deadline = float(sys.argv[6]) if len(sys.argv) > 6 else 5.0
busy = len(sys.argv) > 7 and sys.argv[7] == "BUSY"

faulthandler.enable()      # a crash (the race at its worst) says where
ctx = ssl.create_default_context(cafile=cafile)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
store = tlsresume.SessionStore(store_path)
tlsresume.attach(ctx, store)

MESSAGES = 20


def ws_run(state):
    from websockets.sync.client import connect

    with connect("wss://localhost:%d/" % port, ssl=ctx, open_timeout=deadline,
                 close_timeout=1) as ws:
        state["sock"] = ws.socket
        # websockets' own reader thread sits in recv from here on.
        for i in range(MESSAGES):
            ws.send("m%d" % i)
            if ws.recv(timeout=deadline) != "m%d" % i:
                raise AssertionError("echo mismatch")
        return ws.socket.session_reused


def raw_run(state):
    """A request, then messages from this thread while a reader thread sits
    in recv: the reader takes the TLS 1.3 tickets (the capture callback
    runs there) while this thread writes."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=deadline)
    state["sock"] = raw
    with ctx.wrap_socket(raw, server_hostname="localhost") as c:
        got = bytearray()
        first = threading.Event()
        want = b"".join(b"m%02d" % i for i in range(MESSAGES))

        def reader():       # in recv (SSL_read) while the writer sends
            while len(got) < len(want):
                d = c.recv(65536)
                if not d:
                    break
                got.extend(d)
                first.set()
            first.set()

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        time.sleep(0.002)   # what websockets does between the two
        c.sendall(b"m00")
        first.wait(deadline)
        for i in range(1, MESSAGES):
            c.sendall(b"m%02d" % i)
        t.join(deadline)
        if bytes(got) != want:
            raise AssertionError("echo: %d of %d bytes" % (len(got),
                                                           len(want)))
        return c.session_reused


def one(fn):
    """fn in a thread, under the deadline: (reused, error or 'hang')."""
    state, out = {}, {}

    def body():
        try:
            out["reused"] = fn(state)
        except Exception as e:      # noqa: BLE001 - reported, not raised
            out["error"] = "%s: %s" % (type(e).__name__, e)

    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(deadline)
    if t.is_alive():
        sock = state.get("sock")
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return None, "hang"
    return out.get("reused"), out.get("error")


def keep_store_busy(stop, counter):
    """Puts in a loop: the store lock is mostly held, by file I/O."""
    sess = None
    while sess is None and not stop.is_set():
        sess = store.get("localhost", port, context=ctx)
        time.sleep(0.01)
    while not stop.is_set():
        store.put("busy.invalid", 1, sess)
        counter[0] += 1


fn = ws_run if kind == "ws" else raw_run
result = {"ok": 0, "hangs": 0, "errors": [], "reused": []}
stop, puts = threading.Event(), [0]
if busy:
    threading.Thread(target=keep_store_busy, args=(stop, puts),
                     daemon=True).start()
for _ in range(runs):
    reused, error = one(fn)
    if error == "hang":
        result["hangs"] += 1
    elif error is not None:
        result["errors"].append(error)
    else:
        result["ok"] += 1
    result["reused"].append(reused)
stop.set()
result["busy_puts"] = puts[0]
print(json.dumps(result), flush=True)
