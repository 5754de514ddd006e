"""A real redis-server for the Redis tests (Debian's, tools/install-deps):
127.0.0.1, a free port, a password, no persistence; stopped after the test.
Also one HTTPS GET through a context, reporting the server's own word."""
import json
import secrets
import shutil
import socket
import subprocess
import time

import pytest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self, port=None):
        self.password = secrets.token_hex(12)
        self.port = port
        self.proc = None
        self.start()

    @property
    def url(self):
        return "redis://:%s@127.0.0.1:%d/0" % (self.password, self.port)

    def start(self):
        for _ in range(5):
            port = self.port or free_port()
            proc = subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                 "--requirepass", self.password, "--save", "",
                 "--appendonly", "no", "--daemonize", "no",
                 "--loglevel", "warning"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if self._ready(port, proc):
                self.port, self.proc = port, proc
                return
            proc.kill()
            proc.wait()
        raise RuntimeError("redis-server did not start")

    def _ready(self, port, proc):
        end = time.monotonic() + 10
        while time.monotonic() < end and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), 0.5) as s:
                    s.sendall(b"AUTH %s\r\nPING\r\n" % self.password.encode())
                    got = b""
                    while b"PONG" not in got:
                        d = s.recv(100)
                        if not d:
                            break
                        got += d
                    if b"PONG" in got:
                        return True
            except OSError:
                time.sleep(0.05)
        return False

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def cli(self, *args):
        """redis-cli --raw ARGS: stdout as bytes."""
        return subprocess.run(
            ["redis-cli", "--no-auth-warning", "-p", str(self.port), "-a",
             self.password, "--raw"] + [str(a) for a in args],
            check=True, capture_output=True).stdout


@pytest.fixture
def redis_server():
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server missing: run tools/install-deps")
    srv = RedisServer()
    yield srv
    srv.kill()


def https_get(port, ctx, host="localhost", path="/"):
    """One GET over ctx.wrap_socket; the server's JSON report."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as c:
            c.sendall(b"GET %s HTTP/1.0\r\n\r\n" % path.encode())
            data = b""
            while True:
                d = c.recv(65536)
                if not d:
                    break
                data += d
    return json.loads(data.split(b"\r\n\r\n", 1)[1])
