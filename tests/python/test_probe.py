"""tlsresume probe (issue 11) against servers whose truth is known:
openssl s_server variants, Node with shared or different ticket keys on
127.0.0.1 and 127.0.0.2 (the pool matrix), and bad targets that must end
with one line and exit 2 within the timeout."""
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

import tlsresume
from conftest import HELPERS

TRIES = 3


@pytest.fixture
def openssl_server(start_server, certs):
    """openssl s_server with extra flags (stdin kept open)."""
    def start(*flags, www=True):
        cert, key = certs
        return start_server(
            ["openssl", "s_server", "-accept", "127.0.0.1:0",
             "-cert", str(cert), "-key", str(key)]
            + (["-www"] if www else []) + list(flags),
            r"ACCEPT 127\.0\.0\.1:(\d+)")
    return start


def probe(port, certs, **kw):
    kw.setdefault("tries", TRIES)
    return tlsresume.probe("127.0.0.1", port, cafile=str(certs[0]), **kw)


def cli(*args, timeout=60):
    p = subprocess.run([sys.executable, "-m", "tlsresume", "probe"]
                       + [str(a) for a in args], capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def test_probe_s_server_default_resumes_everything(openssl_server, certs):
    srv = openssl_server()
    r = probe(srv.port, certs)
    assert r.exit_status == 0 and r.verdict == "resumes", r.failures
    assert r.session_id == {"attempts": TRIES, "resumed": TRIES}
    assert r.ticket_tls12["resumed"] == TRIES
    assert r.ticket_tls12["patterns"] == {"full_new_ticket": 1,
                                          "abbreviated": TRIES}
    assert r.tls13["resumed"] == TRIES
    # 2 tickets after a full TLS 1.3 handshake, 1 after each resumption.
    assert r.tickets_per_connection["tls1.3"] == [2] + [1] * TRIES
    assert r.ticket_lifetime_hint["tls1.3"] == [7200]
    kn = r.ticket_key_names
    assert len(kn["tls1.2"]) == 1 and kn["tls1.2"] == kn["tls1.3"]
    assert kn["rfc5077_layout"] and kn["same_across_connections"]
    assert r.early_data["advertised_max"] == 0
    assert r.cross_address is None
    # OpenSSL accepts a stateless ticket twice: reported, not a failure.
    assert r.tls13["reused_ticket_resumed"] is True
    assert any("resumed twice" in w for w in r.warnings)


def test_probe_tickets_off_session_ids_only(openssl_server, certs):
    srv = openssl_server("-no_ticket")
    r = probe(srv.port, certs, tls="1.2")
    assert r.session_id["resumed"] == TRIES
    assert r.ticket_tls12 == {"attempts": TRIES, "resumed": 0,
                              "patterns": {"full_no_ticket": 1}}
    assert r.exit_status == 1
    assert any("TLS 1.2 tickets: 0/%d" % TRIES in f for f in r.failures)
    assert r.tls13 is None and r.versions["tls1.3"] is None


def test_probe_no_cache_no_ticket_resumes_nothing(openssl_server, certs):
    srv = openssl_server("-no_cache", "-no_ticket")
    r = probe(srv.port, certs)
    assert r.session_id["resumed"] == 0 and r.ticket_tls12["resumed"] == 0
    assert any("no session cache" in f for f in r.failures)
    assert r.exit_status == 1
    # TLS 1.3 with -no_ticket: stateful tickets, but no cache to find them.
    assert r.tls13["resumed"] == 0
    assert any("TLS 1.3 tickets issued" in w and "never accepted" in w
               for w in r.warnings)
    assert r.ticket_key_names["rfc5077_layout"] is False
    assert any("do not look like the RFC 5077" in n for n in r.notes)


def test_probe_num_tickets_0_no_tls13_resumption(openssl_server, certs):
    srv = openssl_server("-num_tickets", "0")
    r = probe(srv.port, certs, tls="1.3")
    assert r.tls13["resumed"] == 0
    assert r.tickets_per_connection["tls1.3"] == [0] * (TRIES + 1)
    assert any("sent no tickets" in f for f in r.failures)
    assert r.exit_status == 1


def test_probe_early_data_accepted_replay_refused(openssl_server, certs):
    srv = openssl_server("-early_data", www=False)
    rc, out, err = cli("127.0.0.1:%d" % srv.port, "--cafile", certs[0],
                       "--tls1.3", "--early-data", "--tries", TRIES,
                       "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert d["early_data"]["advertised_max"] == 16384
    assert d["early_data"]["attempted"] is True
    assert d["early_data"]["accepted"] == TRIES
    assert d["early_data"]["replay_accepted"] is False
    # s_server prints the early data it received.
    assert "HEAD / HTTP/1.1" in srv.output()


def test_probe_early_data_not_advertised_fails(openssl_server, certs):
    srv = openssl_server()
    r = probe(srv.port, certs, tls="1.3", early_data=True)
    assert r.early_data["advertised_max"] == 0
    assert r.early_data["attempted"] is False
    assert r.exit_status == 1


def test_probe_json_schema_has_the_documented_keys(openssl_server, certs):
    srv = openssl_server()
    rc, out, err = cli("127.0.0.1:%d" % srv.port, "--cafile", certs[0],
                       "--tries", 2, "--json")
    assert rc == 0, err
    d = json.loads(out)
    for k in ("target", "addresses", "session_id", "ticket_tls12", "tls13",
              "tickets_per_connection", "ticket_lifetime_hint",
              "ticket_key_names", "early_data", "cross_address", "warnings",
              "verdict"):
        assert k in d
    assert set(d["early_data"]) >= {"advertised_max", "attempted",
                                     "accepted"}
    assert d["target"] == {"host": "127.0.0.1", "port": srv.port,
                           "sni": None}


def test_probe_text_report_and_help(openssl_server, certs):
    srv = openssl_server("-no_ticket")
    rc, out, err = cli("127.0.0.1:%d" % srv.port, "--cafile", certs[0],
                       "--tries", 2, "--tls1.2")
    assert rc == 1 and "verdict: does not always resume" in out
    assert "not resumed: TLS 1.2 tickets: 0/2" in out
    rc, out, _ = cli("--help")
    assert rc == 0 and "example:" in out and "--all-ips" in out


# ---- a pool: Node on 127.0.0.1 and 127.0.0.2, same port ------------------

def _free_port_on_both():
    for _ in range(50):
        a = socket.socket()
        a.bind(("127.0.0.1", 0))
        port = a.getsockname()[1]
        b = socket.socket()
        try:
            b.bind(("127.0.0.2", port))
        except OSError:
            continue
        finally:
            a.close()
            b.close()
        return port
    pytest.skip("no port free on 127.0.0.1 and 127.0.0.2")


def _wait_listening(host, port):
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on %s:%d" % (host, port))


@pytest.fixture
def node_pool(start_server, certs):
    if subprocess.run(["node", "--version"], capture_output=True).returncode:
        pytest.skip("node not installed")

    def start(same_keys):
        port = _free_port_on_both()
        k1 = os.urandom(48).hex()
        k2 = k1 if same_keys else os.urandom(48).hex()
        for host, k in (("127.0.0.1", k1), ("127.0.0.2", k2)):
            start_server(["node", str(HELPERS / "node_tls_server.js"),
                          str(certs[0]), str(certs[1]), host, str(port), k],
                         r"^PORT (\d+)")
        return port
    return start


@pytest.mark.parametrize("same_keys", [True, False])
def test_probe_pool_matrix_node_set_ticket_keys(node_pool, certs, same_keys):
    port = node_pool(same_keys)
    r = tlsresume.probe("127.0.0.1", port, ips=["127.0.0.1", "127.0.0.2"],
                        cafile=str(certs[0]), tries=2,
                        mechanisms=["ticket_tls12", "tls13"])
    assert r.addresses == ["127.0.0.1", "127.0.0.2"]
    for v in ("tls1.2", "tls1.3"):
        m = r.cross_address[v]
        assert m[0][0] is True and m[1][1] is True
        assert m[0][1] is same_keys and m[1][0] is same_keys, (v, m)
    assert r.ticket_key_names["same_across_addresses"] is same_keys
    assert r.exit_status == (0 if same_keys else 1)
    if not same_keys:
        assert any("did not resume at 127.0.0.2" in f for f in r.failures)
        assert any("do not share ticket keys" in w for w in r.warnings)


def _in_private_hosts(hosts_text, tmp_path):
    """A command prefix that runs under a private /etc/hosts (a mount
    namespace): the only way to give a name several local addresses."""
    hosts = tmp_path / "hosts"
    hosts.write_text(hosts_text)
    if os.geteuid() != 0 or subprocess.run(
            ["unshare", "-m", "true"], capture_output=True).returncode:
        pytest.skip("needs root for a mount namespace")
    return ["unshare", "-m", "sh", "-c",
            'mount --bind "$0" /etc/hosts && exec "$@"', str(hosts)]


def test_probe_all_ips_uses_every_address_the_name_resolves_to(
        node_pool, certs, tmp_path):
    port = node_pool(True)
    prefix = _in_private_hosts(
        "127.0.0.1 localhost\n127.0.0.2 pool.tlsr.test\n"
        "127.0.0.1 pool.tlsr.test\n", tmp_path)
    p = subprocess.run(prefix + [
        sys.executable, "-m", "tlsresume", "probe", "pool.tlsr.test:%d" % port,
        "--all-ips", "--sni", "localhost", "--cafile", str(certs[0]),
        "--tries", "1", "--mechanism", "ticket_tls12", "--json"],
        capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert sorted(r["addresses"]) == ["127.0.0.1", "127.0.0.2"]
    assert r["cross_address"]["tls1.2"] == [[True, True], [True, True]]


def test_regression_node_end_without_close_notify_keeps_tls13_ticket(
        node_pool, certs):
    # Node's end() closes without close_notify: OpenSSL 3 made that read
    # fatal and marked the newest TLS 1.3 ticket not resumable, so the
    # probe reported 0/N against a server that resumes.  Node renews no
    # ticket on resumption (its callback returns 1): with 2 tickets from
    # the full handshake, a use-once client resumes 2 of every 3.
    port = node_pool(True)
    r = tlsresume.probe("127.0.0.1", port, cafile=str(certs[0]), tries=5,
                        tls="1.3")
    assert r.tls13["resumed"] == 4, r.connections
    assert r.tickets_per_connection["tls1.3"] == [2, 0, 0, 2, 0, 0]
    assert any("earn no new ticket" in w for w in r.warnings)


def test_probe_pool_matrix_s_server_own_keys_tls13(start_server, certs):
    port = _free_port_on_both()
    for host in ("127.0.0.1", "127.0.0.2"):
        # s_server prints a bare ACCEPT for a fixed port: say it first.
        start_server(["sh", "-c", 'echo "PORT $0"; exec "$@"', str(port),
                      "openssl", "s_server", "-accept", "%s:%d" % (host, port),
                      "-www", "-cert", str(certs[0]), "-key", str(certs[1])],
                     r"^PORT (\d+)")
        _wait_listening(host, port)
    rc, out, err = cli("127.0.0.1:%d" % port, "--ip", "127.0.0.1", "--ip",
                       "127.0.0.2", "--tls1.3", "--tries", 1, "--cafile",
                       certs[0])
    assert rc == 1, err
    assert "pool TLS 1.3" in out and "NO" in out
    assert "did not resume at 127.0.0.1" in out


# ---- bad targets: one line, exit 2, within the timeout -------------------

def _closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def silent_port():
    """Accepts connections and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    held = []
    stop = threading.Event()

    def loop():
        s.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(s.accept()[0])
            except OSError:
                pass
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield s.getsockname()[1]
    stop.set()
    t.join()
    for c in held:
        c.close()
    s.close()


@pytest.fixture
def http_port(start_server):
    return start_server([sys.executable, "-u", "-m", "http.server", "0",
                         "--bind", "127.0.0.1"], r"port (\d+)").port


def _one_line_exit_2(rc, out, err):
    assert rc == 2, (out, err)
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("tlsresume: ")


def test_probe_closed_port(certs):
    rc, out, err = cli("127.0.0.1:%d" % _closed_port(), "--timeout", 2)
    _one_line_exit_2(rc, out, err)
    assert "Connection refused" in err


def test_probe_plain_http_port(http_port):
    rc, out, err = cli("127.0.0.1:%d" % http_port, "--timeout", 2)
    _one_line_exit_2(rc, out, err)
    assert "does not speak TLS" in err


def test_probe_silent_server_ends_within_timeout(silent_port):
    t0 = time.monotonic()
    rc, out, err = cli("127.0.0.1:%d" % silent_port, "--timeout", 1)
    elapsed = time.monotonic() - t0
    _one_line_exit_2(rc, out, err)
    assert "no answer within 1000 ms" in err
    assert elapsed < 1 + 2.5      # the timeout plus interpreter start-up


def test_probe_certificate_check_fails_without_cafile(openssl_server):
    srv = openssl_server()
    rc, out, err = cli("localhost:%d" % srv.port, "--tries", 1)
    _one_line_exit_2(rc, out, err)
    assert "certificate verify failed" in err and "--insecure" in err
    rc, out, err = cli("localhost:%d" % srv.port, "--tries", 1, "--insecure",
                       "--tls1.3")
    assert rc == 0, err


def test_probe_usage_errors_exit_2():
    for args in (["no-port:x"], ["h", "--tries", "0"], ["h", "--count", "3"],
                 ["h", "--tls1.2", "--tls1.3"], ["h", "--mechanism", "x"]):
        rc, out, err = cli(*args)
        _one_line_exit_2(rc, out, err.splitlines()[-1] + "\n"
                         if rc == 2 and err.startswith("usage") else err) \
            if not err.startswith("usage") else None
        assert rc == 2, (args, err)
        assert "Traceback" not in err


def test_probe_python_api_errors():
    with pytest.raises(TypeError):
        tlsresume.probe(b"host", 443)
    with pytest.raises(tlsresume.Error) as e:
        tlsresume.probe("127.0.0.1", 443, tries=0)
    assert e.value.code_name == "TLSR_EINVAL"
    with pytest.raises(tlsresume.Error):
        tlsresume.probe("127.0.0.1", 70000)
    with pytest.raises(tlsresume.Error):
        tlsresume.probe("127.0.0.1", 443, ips=["not-an-ip"])
    with pytest.raises(tlsresume.Error):
        tlsresume.probe("127.0.0.1", 443, tls="1.1")
    with pytest.raises(ValueError):
        tlsresume.probe("a\0b", 443)
    with pytest.raises(tlsresume.Error) as e:
        tlsresume.probe("127.0.0.1", _closed_port(), timeout=1)
    assert e.value.code_name == "TLSR_ECONNECT"


# ---- the pytest plugin and tlsresume.testing -------------------------------

def test_probe_plugin_tls_server_and_assert_resumes(tls_server):
    from tlsresume.testing import assert_not_resumes, assert_resumes
    srv = tls_server(tls="1.3")
    r = assert_resumes(srv.host, srv.port, cafile=srv.cafile, tries=2)
    assert r.tls13 == dict(r.tls13, attempts=2, resumed=2)
    # The probe's verdicts, connection by connection, are the server's.
    assert [c["resumed"] for c in r.connections] == \
        [c["resumed"] for c in srv.connections()]
    assert srv.resumed_count() == 3         # 2 tries + the reused ticket
    off = tls_server(tls="1.2", tickets=False, cache=False)
    assert_not_resumes(off.host, off.port, cafile=off.cafile, tries=2)
    with pytest.raises(AssertionError) as e:
        assert_resumes(off.host, off.port, cafile=off.cafile, tries=2)
    msg = str(e.value)
    assert "0/2 session-ID resumptions" in msg
    assert "0/2 TLS 1.2 ticket resumptions" in msg


def test_probe_plugin_num_tickets_0_message(tls_server):
    from tlsresume.testing import assert_resumes
    srv = tls_server(tls="1.3", num_tickets=0)
    with pytest.raises(AssertionError) as e:
        assert_resumes(srv.host, srv.port, cafile=srv.cafile, tries=2)
    assert "0/2 TLS 1.3 resumptions" in str(e.value)
    assert "0 tickets per connection" in str(e.value)


def test_probe_plugin_session_store_is_private(session_store):
    for d in (session_store.path, os.path.dirname(session_store.path)):
        assert os.stat(d).st_mode & 0o077 == 0, d
    assert session_store.count() == 0 if hasattr(session_store, "count") \
        else True


def test_probe_example_file_runs(tls_server, tmp_path):
    import tlsresume
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    ex = os.path.join(root, "examples", "test_my_server_resumes.py")
    p = subprocess.run([sys.executable, "-m", "pytest", "-q",
                        "-p", "no:cacheprovider", ex], capture_output=True,
                       text=True, timeout=120, cwd=str(tmp_path))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "1 passed, 2 skipped" in p.stdout


# ---- --watch: key names over time; IPv6 ------------------------------------

@pytest.mark.parametrize("rotate", [False, True])
def test_probe_watch_sees_key_rotation(start_server, certs, rotate):
    if subprocess.run(["node", "--version"], capture_output=True).returncode:
        pytest.skip("node not installed")
    env = dict(os.environ, ROTATE_MS="400") if rotate else None
    srv = start_server(["node", str(HELPERS / "node_tls_server.js"),
                        str(certs[0]), str(certs[1]), "127.0.0.1", "0",
                        os.urandom(48).hex()], r"^PORT (\d+)", env=env)
    rc, out, err = cli("127.0.0.1:%d" % srv.port, "--cafile", certs[0],
                       "--tls1.2", "--tries", 1, "--watch", 0.5, "--count",
                       3, "--json")
    assert rc == 1, err             # Node has no session cache (IDs 0/1)
    d = json.loads(out)
    assert len(d["watch"]) == 3
    names = [tuple(w["tls1.2"]) for w in d["watch"]]
    changed = [n for n in d["notes"] if "key name changed" in n]
    if rotate:
        assert len(set(names)) > 1 and changed, d["notes"]
    else:
        assert len(set(names)) == 1 and not changed
        assert any("no key name change observed" in n for n in d["notes"])


def test_probe_watch_warns_when_a_key_name_outlives_24h(
        openssl_server, certs, monkeypatch):
    # A day cannot pass in a test: the watch loop's clock is moved 13 h a
    # round instead, against a real server whose key never changes.
    import tlsresume._probe as probe_mod
    now = [1_700_000_000.0]
    real_time = time

    class Clock:
        @staticmethod
        def time():
            return now[0]

        @staticmethod
        def sleep(seconds):
            now[0] += 13 * 3600

        gmtime = staticmethod(real_time.gmtime)
        strftime = staticmethod(real_time.strftime)

    monkeypatch.setattr(probe_mod, "time", Clock)
    srv = openssl_server()
    r = tlsresume.probe("127.0.0.1", srv.port, cafile=str(certs[0]), tries=1,
                        tls="1.2", mechanisms=["ticket_tls12"], watch=1,
                        count=3)
    assert len(r.watch) == 3
    assert any("TLS 1.2 ticket key name unchanged for 26 h" in w
               for w in r.warnings), r.warnings


def test_probe_ipv6_target(start_server, certs):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        pytest.skip("no ::1")
    srv = start_server(["openssl", "s_server", "-accept", "[::1]:0", "-www",
                        "-cert", str(certs[0]), "-key", str(certs[1])],
                       r"ACCEPT \[::1\]:(\d+)")
    rc, out, err = cli("[::1]:%d" % srv.port, "--insecure", "--tries", 2,
                       "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert d["addresses"] == ["::1"] and d["tls13"]["resumed"] == 2


@pytest.fixture
def streaming_tls_server(certs):
    """A TLS server that, after the handshake, sends data without end."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(certs[0]), str(certs[1]))
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    ls.settimeout(0.2)
    stop = threading.Event()

    def serve(c):
        try:
            with ctx.wrap_socket(c, server_side=True) as s:
                while not stop.is_set():
                    s.sendall(b"x" * 16384)
        except OSError:
            pass

    def loop():
        while not stop.is_set():
            try:
                c, _ = ls.accept()
            except OSError:
                continue
            threading.Thread(target=serve, args=(c,), daemon=True).start()
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield ls.getsockname()[1]
    stop.set()
    t.join()
    ls.close()


def test_probe_streaming_server_does_not_hold_the_probe(
        streaming_tls_server, certs):
    # The ticket read loop checks its deadline on data too (a server
    # faster than the probe's reads would otherwise hold it for ever).
    t0 = time.monotonic()
    r = tlsresume.probe("127.0.0.1", streaming_tls_server,
                        cafile=str(certs[0]), tls="1.3", tries=2, timeout=2)
    assert time.monotonic() - t0 < 4
    assert r.tls13["attempts"] == 2
