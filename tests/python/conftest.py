"""Fixtures for the Python suite: certificates, real TLS servers on
127.0.0.1 (free ports, killed after every test) and client subprocesses."""
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

# Servers run in a process group of their own and are stopped with it:
# killing only the parent left their workers running (uvicorn's, gunicorn's,
# nginx's), hundreds after a few runs, slowing every later test.
from tlsresume.pytest_plugin import _stop_group as stop_group

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("TLSR_ROOT") or HERE.parents[1])
VECTORS = ROOT / "tests" / "vectors"
HELPERS = HERE / "helpers"


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """A self-signed RSA-2048 certificate for localhost and 127.0.0.1."""
    d = tmp_path_factory.mktemp("certs")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True)
    return cert, key


class Server:
    """A server subprocess (a process group of its own); its stdout is
    collected in the background."""

    def __init__(self, argv, port_re, env=None):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     env=env, start_new_session=True)
        self.lines = []
        self._port = threading.Event()
        self.port = None
        self._re = re.compile(port_re)
        threading.Thread(target=self._drain, daemon=True).start()
        if not self._port.wait(15):
            self.stop()
            raise RuntimeError("server did not start: %r" % self.lines)

    def _drain(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            m = self._re.search(line)
            if m and self.port is None:
                self.port = int(m.group(1))
                self._port.set()
        self._port.set()

    def output(self):
        return "\n".join(self.lines)

    def stop(self):
        stop_group(self.proc)


@pytest.fixture
def start_server():
    """start_server(argv, port_re) -> Server; every one is killed after."""
    started = []

    def start(argv, port_re, env=None):
        s = Server(argv, port_re, env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def s_server(start_server, certs):
    """openssl s_server -www; mode: tls12-sid, tls12-ticket, tls13."""
    def start(mode):
        cert, key = certs
        flags = {"tls12-sid": ["-tls1_2", "-no_ticket"],
                 "tls12-ticket": ["-tls1_2"],
                 "tls13": ["-tls1_3"]}[mode]
        return start_server(
            ["openssl", "s_server", "-accept", "127.0.0.1:0", "-www",
             "-cert", str(cert), "-key", str(key)] + flags,
            r"ACCEPT 127\.0\.0\.1:(\d+)")
    return start


@pytest.fixture
def py_server(start_server, certs):
    """A Python HTTPS server (http.server over ssl) that answers each GET
    with JSON {"reused": ..., "version": ...} read from its own SSLSocket
    and logs the same JSON line on stdout.  mode: tls12-sid, tls12-ticket,
    tls13."""
    def start(mode):
        cert, key = certs
        return start_server(
            [sys.executable, str(HELPERS / "pyserver.py"), str(cert),
             str(key), mode], r"^PORT (\d+)")
    return start


def server_reports(server):
    """The JSON lines a py_server logged, oldest first."""
    out = []
    for line in server.lines:
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def run_py(args, *, timeout=60, check=True, input=None):
    """Run a Python helper in a NEW process; returns its JSON output."""
    p = subprocess.run([sys.executable] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=timeout,
                       input=input)
    if check and p.returncode != 0:
        raise AssertionError("helper failed (%d):\n%s\n%s"
                             % (p.returncode, p.stdout, p.stderr))
    last = [l for l in p.stdout.splitlines() if l.startswith("{")]
    return json.loads(last[-1]) if last else p


def client(port, cafile, **kw):
    """helpers/client.py in a new process: connect, GET, report JSON."""
    args = [HELPERS / "client.py", "--port", port, "--cafile", cafile]
    for k, v in kw.items():
        flag = "--" + k.replace("_", "-")
        if v is True:
            args.append(flag)
        elif v not in (None, False):
            args += [flag, v]
    return run_py(args)


def wait_for(pred, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return pred()
