"""Interop: sessions saved by Python resume in openssl s_client and Node,
and sessions saved by s_client (-sess_out) and Node ('session' event,
DER) resume in Python.  Real processes and servers on 127.0.0.1."""
import subprocess

import pytest

import tlsresume
from conftest import client

MODES = ["tls12-sid", "tls12-ticket", "tls13"]
REQUEST = "GET / HTTP/1.0\r\n\r\n"


def s_client(port, cafile, *args):
    p = subprocess.run(
        ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
         "-servername", "localhost", "-CAfile", str(cafile), "-ign_eof"]
        + [str(a) for a in args],
        input=REQUEST, capture_output=True, text=True, timeout=30)
    return p.stdout


@pytest.mark.parametrize("mode", MODES)
def test_s_client_resumes_python_session(s_server, certs, tmp_path, mode):
    srv = s_server(mode)
    f = tmp_path / "py.pem"
    client(srv.port, certs[0], session_out=f, format="pem")
    out = s_client(srv.port, certs[0], "-sess_in", f)
    assert "\nReused, " in out, out[-2000:]


@pytest.mark.parametrize("mode", MODES)
def test_python_resumes_s_client_session(s_server, certs, tmp_path, mode):
    srv = s_server(mode)
    f = tmp_path / "sc.pem"
    out = s_client(srv.port, certs[0], "-sess_out", f)
    assert "\nNew, " in out
    info = tlsresume.inspect(f.read_bytes())
    assert info.has_ticket or info.session_id
    second = client(srv.port, certs[0], session_in=f)
    assert second["reused"] is True and second["server_says_reused"] is True


NODE_RESUME = r"""
const tls = require('tls'), fs = require('fs');
const [port, ca, sessFile] = process.argv.slice(1);
const opts = {host: '127.0.0.1', port: +port, servername: 'localhost',
              ca: fs.readFileSync(ca)};
if (sessFile) opts.session = fs.readFileSync(sessFile);
const s = tls.connect(opts, () => {
  const reused = s.isSessionReused();
  s.write('GET / HTTP/1.0\r\n\r\n');
  let body = '';
  s.on('data', d => body += d);
  s.on('end', () => {
    console.log(JSON.stringify({reused, server: body.includes('Reused,')}));
  });
});
s.on('error', e => { console.error(String(e)); process.exit(2); });
"""

NODE_SAVE = r"""
const tls = require('tls'), fs = require('fs');
const [port, ca, out] = process.argv.slice(1);
const s = tls.connect({host: '127.0.0.1', port: +port,
                       servername: 'localhost', ca: fs.readFileSync(ca)},
                      () => s.write('GET / HTTP/1.0\r\n\r\n'));
// TLS 1.3: one 'session' event per ticket, after the handshake.
s.on('session', sess => fs.writeFileSync(out, sess));
s.on('data', () => {});
s.on('end', () => console.log(JSON.stringify({reused: s.isSessionReused()})));
s.on('error', e => { console.error(String(e)); process.exit(2); });
"""


def node(script, *args):
    p = subprocess.run(["node", "-e", script, "--"] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    import json
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mode", MODES)
def test_node_resumes_python_der_session(s_server, certs, tmp_path, mode):
    srv = s_server(mode)
    f = tmp_path / "py.der"
    client(srv.port, certs[0], session_out=f, format="der")
    r = node(NODE_RESUME, srv.port, certs[0], f)
    assert r == {"reused": True, "server": True}


@pytest.mark.parametrize("mode", MODES)
def test_python_resumes_node_session(s_server, certs, tmp_path, mode):
    srv = s_server(mode)
    f = tmp_path / "node.der"
    assert node(NODE_SAVE, srv.port, certs[0], f) == {"reused": False}
    second = client(srv.port, certs[0], session_in=f)
    assert second["reused"] is True and second["server_says_reused"] is True


def test_openssl_sess_id_reads_python_pem(s_server, certs, tmp_path):
    srv = s_server("tls13")
    f = tmp_path / "py.pem"
    client(srv.port, certs[0], session_out=f, format="pem")
    p = subprocess.run(["openssl", "sess_id", "-in", str(f), "-noout",
                        "-text"], capture_output=True, text=True, check=True)
    sid = tlsresume.inspect(f.read_bytes()).session_id.hex().upper()
    assert "Session-ID: " + sid in p.stdout
    # And DER from openssl sess_id is what dumps(format="der") gives.
    der = subprocess.run(["openssl", "sess_id", "-in", str(f), "-outform",
                          "DER"], capture_output=True, check=True).stdout
    assert tlsresume.inspect(der).session_id.hex().upper() == sid


@pytest.mark.parametrize("mode", ["tls12-sid", "tls13"])
def test_foreign_session_id_context_is_normalized(s_server, certs, tmp_path,
                                                  mode):
    # A session stamped with another application's session-id context (as
    # CPython <= 3.12 stamps "Python\0") still resumes: loads() gives it
    # the one this CPython's client connections use.
    srv = s_server(mode)
    f, g = tmp_path / "sc.pem", tmp_path / "other.pem"
    s_client(srv.port, certs[0], "-sess_out", f)
    subprocess.run(["openssl", "sess_id", "-in", str(f), "-out", str(g),
                    "-context", "OtherApp"], check=True, capture_output=True)
    assert tlsresume.inspect(g.read_bytes()).sid_ctx == b"OtherApp"
    second = client(srv.port, certs[0], session_in=g)
    assert second["reused"] is True and second["server_says_reused"] is True
