"""python -m tlsresume: inspect (text / --json), store ls|prune|rm, demo."""
import json
import os
import subprocess
import sys

import tlsresume
from conftest import VECTORS, client


def cli(*args, check=True):
    p = subprocess.run([sys.executable, "-m", "tlsresume"] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=120)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def manifest_row(name):
    lines = (VECTORS / "manifest.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    for line in lines[1:]:
        row = dict(zip(header, line.split("\t")))
        if row["name"] == name:
            return row
    raise KeyError(name)


def test_inspect_text_like_sess_id_without_secret():
    row = manifest_row("openssl-tls12-ticket-rsa.pem")
    out = cli("inspect", VECTORS / row["file"]).stdout
    assert "Protocol  : TLSv1.2" in out
    assert "Session-ID: " + row["session_id"] in out
    assert "Master-Key: (48 bytes, not shown)" in out
    assert "TLS session ticket lifetime hint: 7200" in out
    assert row["master_key"] not in out.upper()


def test_inspect_json_and_stdin():
    row = manifest_row("openssl-tls13-rsa.der")
    data = (VECTORS / row["file"]).read_bytes()
    p = subprocess.run([sys.executable, "-m", "tlsresume", "inspect", "--json",
                        "-"], input=data, capture_output=True, timeout=60)
    assert p.returncode == 0
    d = json.loads(p.stdout)
    assert d["session_id"].upper() == row["session_id"]
    assert d["ticket_len"] == int(row["ticket_len"]) == len(d["ticket"]) // 2
    assert row["master_key"].lower() not in p.stdout.decode().lower()


def test_inspect_bad_file_is_a_clear_error(tmp_path):
    f = tmp_path / "bad.der"
    f.write_bytes(b"\x30\x82\xff\xff")
    p = cli("inspect", f, check=False)
    assert p.returncode == 1
    assert "TLSR_ETRUNCATED" in p.stderr and "Traceback" not in p.stderr


def test_store_ls_rm_prune(s_server, certs, tmp_path):
    import ssl
    srv = s_server("tls12-ticket")
    f = tmp_path / "s.der"
    client(srv.port, certs[0], session_out=f)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    path = tmp_path / "store"
    with tlsresume.SessionStore(path) as st:
        st.put("localhost", srv.port, tlsresume.loads(f.read_bytes(), ctx))
    out = cli("store", "ls", path).stdout
    assert "localhost:%d" % srv.port in out and "1 entry" in out
    js = json.loads(cli("store", "ls", path, "--json").stdout)
    assert js[0]["host"] == "localhost" and js[0]["port"] == srv.port
    assert "removed 0" in cli("store", "prune", path).stdout
    assert "removed 1" in cli("store", "rm", path, "localhost",
                              srv.port).stdout
    assert "0 entries" in cli("store", "ls", path).stdout
    assert "removed 0" in cli("store", "rm", path, "localhost", srv.port,
                              "--scope", "other").stdout


def test_demo_new_then_reused():
    out = cli("demo", "--runs", "3").stdout
    lines = [l for l in out.splitlines() if "process" in l]
    assert len(lines) == 3
    assert "New" in lines[0] and "server says: New" in lines[0]
    assert all("Reused" in l and "server says: Reused" in l
               for l in lines[1:])


def test_import_check_sees_one_libssl():
    from tlsresume import _check, _core
    mapped = _check._mapped_libssl()
    assert mapped, "no libssl mapped?"
    ids = {_check._file_id(p) for p in mapped}
    assert ids == {_check._file_id(_core.libssl_path())}
    _check.check(_core)


def live_store(s_server, certs, tmp_path, path, mode="tls12-ticket",
               scopes=("",), **kw):
    """A store at path holding a live session (one per scope); returns the
    server."""
    import ssl
    srv = s_server(mode)
    f = tmp_path / ("live-%s.der" % mode)
    client(srv.port, certs[0], session_out=f)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with tlsresume.SessionStore(path, **kw) as st:
        for scope in scopes:
            st.put("localhost", srv.port,
                   tlsresume.loads(f.read_bytes(), ctx), scope=scope)
    return srv


def test_help_hides_internals_and_every_subcommand_ends_with_an_example():
    top = cli("--help").stdout
    assert "_demo-client" not in top
    assert "example:" in top
    for cmd in (["inspect"], ["demo"], ["store"], ["store", "ls"],
                ["store", "prune"], ["store", "rm"]):
        out = cli(*cmd, "--help").stdout
        tail = out[out.rindex("example:"):]
        assert tail.count("\n  tlsresume " + cmd[0]) >= 1, (cmd, out)
        assert out.rstrip().endswith(tail.rstrip()), cmd


def test_regression_inspect_into_closed_pipe_is_quiet():
    # `tlsresume inspect F | head`: no "[Errno 32] Broken pipe".
    f = VECTORS / "sessions" / "openssl-tls13-rsa.pem"
    p = subprocess.Popen([sys.executable, "-m", "tlsresume", "inspect",
                          "--json", str(f)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdout.close()            # the reader is gone before any output
    err = p.stderr.read().decode()
    p.wait(60)
    assert err == "" and p.returncode in (0, 1)


def test_errors_are_one_line_never_a_traceback(tmp_path):
    unsafe = tmp_path / "unsafe"
    os.mkdir(unsafe)
    os.chmod(unsafe, 0o777)
    (tmp_path / "text").write_text("hello\n")
    cases = [(("inspect", tmp_path / "missing.pem"), "No such file"),
             (("inspect", tmp_path), "Is a directory"),
             (("inspect", tmp_path / "text"), "not an SSL session"),
             (("store", "ls", unsafe), "writable by others"),
             (("store", "ls", "/tmp"), "use a subdirectory"),
             (("store", "ls", tmp_path / "nostore"), "no store directory"),
             (("store", "ls", tmp_path, "--seal-key-file",
               tmp_path / "nokey"), "cannot read")]
    for args, want in cases:
        p = cli(*args, check=False)
        assert p.returncode == 1, args
        assert p.stdout == "", args
        lines = p.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("tlsresume: "), \
            (args, p.stderr)
        assert want in lines[0], (args, lines)
    assert not (tmp_path / "nostore").exists()     # ls never creates


def test_store_ls_sealed_names_the_key_option(s_server, certs, tmp_path):
    key = tmp_path / "key.bin"
    key.write_bytes(os.urandom(32))
    path = tmp_path / "sealed"
    live_store(s_server, certs, tmp_path, path, seal_key=key.read_bytes())
    p = cli("store", "ls", path, check=False)
    assert p.returncode == 1 and "--seal-key-file" in p.stderr, p.stderr
    out = cli("store", "ls", path, "--seal-key-file", key).stdout
    assert "sealed" in out and "1 entry" in out


def test_store_ls_fits_80_columns_and_has_json(s_server, certs, tmp_path):
    path = tmp_path / "st"
    srv = live_store(s_server, certs, tmp_path, path,
                     scopes=["", "a-rather-long-scope-name-for-one-api" * 2])
    out = cli("store", "ls", path).stdout
    assert max(len(l) for l in out.splitlines()) <= 80, out
    assert "2 entries" in out and "7199" not in out
    js = json.loads(cli("store", "ls", path, "--json").stdout)
    assert sorted(e["scope"] for e in js)[0] == ""
    assert all(e["port"] == srv.port and "context" not in e for e in js)
    assert all("ticket_age_add" not in e["info"] for e in js)


def test_regression_inspect_shows_the_ticket_lifetime_not_timeout():
    # nginx's 300 s ticket lifetime hint, OpenSSL's 7200 s timeout: the
    # session is usable until time + 300, which the store uses too.
    row = manifest_row("nginx80-tls13-ec.der")
    assert (row["timeout"], row["ticket_lifetime_hint"]) == ("7200", "300")
    d = json.loads(cli("inspect", "--json", VECTORS / row["file"]).stdout)
    assert d["expires"] == int(row["time"]) + 300
    assert "ticket_age_add" not in d and "has_ticket_age_add" not in d
    text = cli("inspect", VECTORS / row["file"]).stdout
    assert "Expires   : %d " % (int(row["time"]) + 300) in text
    assert "age_add" not in text.lower()


def test_regression_root_lists_store_owned_by_nobody(s_server, certs,
                                                     tmp_path):
    # nginx workers run as nobody: root's `store ls` reads their store
    # (as its owner) instead of "owned by uid 65534".
    import shutil
    import tempfile
    if os.geteuid() != 0:
        import pytest
        pytest.skip("needs root")
    top = tempfile.mkdtemp(prefix="tlsr-nobody-")
    try:
        os.chmod(top, 0o711)        # nobody must reach the store
        path = os.path.join(top, "st")
        srv = live_store(s_server, certs, tmp_path, path)
        for d, dirs, files in os.walk(path):
            for n in [d] + [os.path.join(d, x) for x in files + dirs]:
                os.lchown(n, 65534, 65534)
        p = cli("store", "ls", path)
        assert "localhost:%d" % srv.port in p.stdout
        assert "uid 65534" in p.stderr and len(p.stderr.splitlines()) == 1
        assert os.stat(path).st_uid == 65534
    finally:
        shutil.rmtree(top)
