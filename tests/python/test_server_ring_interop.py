"""One ring, other servers: Node (node48 export), two nginx instances
(nginx80 export, rotate + export + reload), HAProxy (haproxy export).
OpenSSL resumes a decrypted ticket only under the same session-id context
as the server's own: Node gets the Python side's through sessionIdContext,
the two nginx share a certificate (nginx's context is a digest of it)."""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

import ssl

import tlsresume
from conftest import HELPERS, stop_group, wait_for
from ringutil import PyTLSServer, free_port, s_client, server_ctx

SID = "tlsresume-fleet"


def ticket_of(pem):
    return tlsresume.ticket(pem.read_bytes())


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_python_and_node_resume_each_other(start_server, certs, tmp_path,
                                           version):
    ring = tlsresume.TicketKeyRing.init(tmp_path / "r", format="node48")
    assert ring.export("node48", tmp_path / "out") == 1
    node = start_server(["node", str(HELPERS / "node_ticket_server.js"),
                         str(certs[0]), str(certs[1]),
                         str(tmp_path / "out" / "node.key"), SID],
                        r"^PORT (\d+)")
    tv = getattr(ssl.TLSVersion, "TLSv" + version.replace(".", "_"))
    py = PyTLSServer(server_ctx(certs, tv, ring, session_id_context=SID))
    try:
        for first, second in ((node.port, py.port), (py.port, node.port)):
            s1, s2 = tmp_path / "a.pem", tmp_path / "b.pem"
            assert not s_client(first, version, sess_out=s1)
            assert ticket_of(s1)[:16] == ring.encrypting()
            assert s_client(second, version, sess_in=s1, sess_out=s2)
            # TLS 1.2 resumptions under the encrypting key keep the ticket
            ring.decrypt(ticket_of(s2 if s2.exists() else s1))
            s2.unlink(missing_ok=True)
        assert not py.errors
    finally:
        py.close()


NGINX_CONF = """
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 32; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_tickets on;
        include {keys}/nginx-keys.conf;
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""


def export_nginx(ring, keys, fmt="nginx80"):
    """`tlsresume keys export`, its printed lines as the include file."""
    out = subprocess.run(
        [sys.executable, "-m", "tlsresume", "keys", "export", ring.path,
         "--format", fmt, "--out-dir", str(keys)],
        capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise AssertionError(out.stderr)
    (keys / "nginx-keys.conf").write_text(out.stdout)
    return out.stdout.splitlines()


class Proc:
    """A server that prints no port: started, killed at teardown."""

    def __init__(self, argv, log):
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def output(self):
        return self.log.read_text(errors="replace")

    def stop(self):
        stop_group(self.proc)       # nginx's workers too


@pytest.fixture
def procs():
    started = []

    def start(argv, log):
        p = Proc(argv, log)
        started.append(p)
        return p
    yield start
    for p in started:
        p.stop()


def start_nginx(procs, certs, tmp, keys):
    tmp.mkdir()
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=tmp, port=port, cert=certs[0],
                                      key=certs[1], keys=keys))
    srv = procs(["nginx", "-p", str(tmp), "-c", str(conf), "-e",
                 str(tmp / "error.log")], tmp / "stdout.log")
    srv.port = port
    ok = wait_for(lambda: (tmp / "nginx.pid").exists()
                  and "start worker process" in (tmp / "error.log")
                  .read_text(), 15)
    assert ok, (tmp / "error.log").read_text()
    srv.dir = tmp
    return srv


def reload_nginx(srv):
    log = srv.dir / "error.log"
    before = log.read_text().count("start worker process")
    os.kill(int((srv.dir / "nginx.pid").read_text()), signal.SIGHUP)
    assert wait_for(lambda: log.read_text().count("start worker process")
                    > before, 15), log.read_text()
    time.sleep(0.3)     # old workers finish; new ones serve


@pytest.fixture
def nginx_server(procs, certs):
    def start(tmp, keys):
        return start_nginx(procs, certs, tmp, keys)
    return start


@pytest.mark.parametrize("fmt", ["nginx80", "nginx48"])
def test_two_nginx_share_the_ring_across_rotation(nginx_server, tmp_path,
                                                  fmt):
    ring = tlsresume.TicketKeyRing.init(tmp_path / "r", format=fmt)
    keys = tmp_path / "keys"
    lines = export_nginx(ring, keys, fmt)
    assert (keys / "0.key").stat().st_size == int(fmt[-2:])
    assert lines[0] == "ssl_session_ticket_key %s;" % (keys / "0.key")
    a = nginx_server(tmp_path / "a", keys)
    b = nginx_server(tmp_path / "b", keys)
    before = {}
    for v in ("1.2", "1.3"):
        s1, s2 = tmp_path / ("a%s.pem" % v), tmp_path / ("b%s.pem" % v)
        assert not s_client(a.port, v, sess_out=s1)
        assert ticket_of(s1)[:16] == ring.encrypting()
        assert s_client(b.port, v, sess_in=s1, sess_out=s2)
        ring.decrypt(ticket_of(s1))        # nginx's ticket, the ring's key
        before[v] = s2 if v == "1.3" else s1
    old_name = ring.encrypting()
    ring.rotate(force=True)
    time.sleep(1.1)                     # the forced key starts next second
    export_nginx(ring, keys, fmt)
    reload_nginx(a)
    reload_nginx(b)
    for v in ("1.2", "1.3"):
        # issued before the rotation: still resumes on both
        assert s_client(a.port, v, sess_in=before[v],
                        sess_out=tmp_path / ("n%s.pem" % v))
        new = tmp_path / ("new%s.pem" % v)
        assert not s_client(b.port, v, sess_out=new)
        assert ticket_of(new)[:16] == ring.encrypting() != old_name
        assert s_client(a.port, v, sess_in=new)


HAPROXY_CONF = """
global
    log stderr format raw local0 info
defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port} ssl crt {pem} tls-ticket-keys {keys}
    http-request return status 200 content-type text/plain string ok
"""


@pytest.mark.skipif(shutil.which("haproxy") is None,
                    reason="haproxy not installed (tools/install-deps)")
def test_haproxy_tickets_decrypt_with_the_ring(procs, certs, tmp_path):
    ring = tlsresume.TicketKeyRing.init(tmp_path / "r")
    assert ring.export("haproxy", tmp_path / "out") == 3
    pem = tmp_path / "site.pem"
    pem.write_bytes(certs[0].read_bytes() + certs[1].read_bytes())
    port = free_port()
    conf = tmp_path / "haproxy.cfg"
    conf.write_text(HAPROXY_CONF.format(
        port=port, pem=pem, keys=tmp_path / "out" / "haproxy.keys"))
    srv = procs(["haproxy", "-db", "-f", str(conf)], tmp_path / "h.log")
    assert wait_for(lambda: _accepts(port), 15), srv.output()
    for v in ("1.2", "1.3"):
        s1 = tmp_path / ("h%s.pem" % v)
        assert not s_client(port, v, sess_out=s1)
        assert ticket_of(s1)[:16] == ring.encrypting()  # penultimate line
        ring.decrypt(ticket_of(s1))
        assert s_client(port, v, sess_in=s1)


def _accepts(port):
    import socket
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return True
    except OSError:
        return False
