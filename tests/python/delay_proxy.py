"""A user-space TCP proxy on 127.0.0.1 that delays every chunk by a fixed
one-way delay (tc netem is not available here).  bench/latency.py measures
round trips through it; tests/python/test_early_data.py puts it in front of
nginx so that, as on any real network, the client's Finished arrives after
nginx has read the early data (on bare loopback nginx sometimes reads both
at once, completes the handshake first and reports $ssl_early_data empty
for early data it accepted)."""
import socket
import threading
import time


class DelayProxy:
    """Forwards 127.0.0.1:port to target; every chunk read from either side
    is written to the other delay seconds later (one-way delay)."""

    def __init__(self, target, delay):
        self.target, self.delay = target, delay
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            s = socket.create_connection(("127.0.0.1", self.target))
            for x in (c, s):
                x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for a, b in ((c, s), (s, c)):
                threading.Thread(target=self._pump, args=(a, b),
                                 daemon=True).start()

    def _pump(self, a, b):
        queue, cv, done = [], threading.Condition(), []

        def writer():
            while True:
                with cv:
                    while not queue and not done:
                        cv.wait()
                    if not queue and done:
                        break
                    due, data = queue.pop(0)
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                try:
                    if data is None:
                        b.shutdown(socket.SHUT_WR)
                    else:
                        b.sendall(data)
                except OSError:
                    break
        threading.Thread(target=writer, daemon=True).start()
        while True:
            try:
                data = a.recv(65536)
            except OSError:
                data = b""
            with cv:
                queue.append((time.monotonic() + self.delay, data or None))
                cv.notify()
            if not data:
                break
        with cv:
            done.append(1)
            cv.notify()

    def close(self):
        self.lsock.close()
