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
    assert "localhost:%d" % srv.port in out and "1 entries" in out
    js = json.loads(cli("store", "ls", path, "--json").stdout)
    assert js[0]["host"] == "localhost" and js[0]["port"] == srv.port
    assert "removed 0" in cli("store", "prune", path).stdout
    assert "removed 1" in cli("store", "rm", path, "localhost",
                              srv.port).stdout
    assert "0 entries" in cli("store", "ls", path).stdout


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
