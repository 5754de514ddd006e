"""`tlsresume keys`: init, rotate (cron-friendly, concurrent), show,
export; one-line errors and exit codes; never a secret on the screen."""
import json
import signal
import subprocess
import sys

import pytest

import tlsresume


def keys(*args, check=True):
    p = subprocess.run([sys.executable, "-m", "tlsresume", "keys"]
                       + [str(a) for a in args], capture_output=True,
                       text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(p.stderr)
    return p


def secrets(ring_dir):
    out = []
    for f in ring_dir.glob("*.key"):
        raw = f.read_bytes()
        out += [raw[16:48].hex(), raw[48:].hex()]
    return out


def test_init_show_rotate_export(tmp_path):
    r = tmp_path / "ring"
    out = keys("init", r, "--period", "30m", "--keep", "6h").stdout
    assert "2 keys" in out and "AES-256" in out
    show = keys("show", r).stdout
    assert "encrypt" in show and "next" in show
    data = json.loads(keys("show", r, "--json").stdout)
    assert data["period"] == 1800 and data["keep"] == 6 * 3600
    assert [k["role"] for k in data["keys"]] == ["encrypt", "next"]
    assert "nothing due" in keys("rotate", r).stdout     # idempotent
    assert "rotated" in keys("rotate", r, "--force").stdout
    for text in (show, keys("show", r).stdout, keys("show", r, "--json")
                 .stdout):
        for s in secrets(r):
            assert s not in text
    lines = keys("export", r, "--format", "nginx80", "--out-dir",
                 tmp_path / "ngx").stdout.splitlines()
    assert lines[0] == "ssl_session_ticket_key %s;" % (tmp_path / "ngx" /
                                                        "0.key")
    assert len(lines) == 3
    line = keys("export", r, "--format", "haproxy", "--out-dir",
                tmp_path / "hap").stdout
    assert "tls-ticket-keys %s" % (tmp_path / "hap" / "haproxy.keys") in line
    assert (tmp_path / "ngx" / "0.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("args,msg", [
    (["show", "{d}/nope"], "does not exist"),
    (["init", "{d}/x", "--keep", "8d"], "7 days"),
    (["init", "{d}/x", "--period", "0"], "not a duration"),
    (["export", "{d}/r", "--format", "node48", "--out-dir", "{d}/o"],
     "AES-256"),
])
def test_one_line_errors(tmp_path, args, msg):
    keys("init", tmp_path / "r")
    p = keys(*[a.format(d=tmp_path) for a in args], check=False)
    assert p.returncode in (1, 2)
    # ours: one line; argparse's: usage, then one line saying what is wrong
    assert msg in p.stderr.strip().splitlines()[-1], p.stderr
    assert "Traceback" not in p.stderr


def test_help_has_examples():
    for sub in ("init", "rotate", "show", "export"):
        out = keys(sub, "--help").stdout
        assert "example" in out and "tlsresume keys %s" % sub in out


def test_eight_concurrent_forced_rotations_converge(tmp_path):
    r = tmp_path / "ring"
    keys("init", r)
    procs = [subprocess.Popen([sys.executable, "-m", "tlsresume", "keys",
                               "rotate", str(r), "--force"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(8)]
    assert all(p.wait(60) == 0 for p in procs)
    ring = tlsresume.TicketKeyRing(r)
    roles = [k.role for k in ring.keys()]
    assert 3 <= len(roles) <= 5, roles
    assert roles.count("next") >= 1
    assert not list(r.glob(".tmp-*"))
    assert keys("rotate", r).stdout.startswith("nothing due")


def test_rotate_exports_for_nginx_and_signals_it(tmp_path):
    r, out = tmp_path / "ring", tmp_path / "ngx"
    keys("init", r)
    # SIGHUP's default action, even under nohup (an ignored signal is
    # inherited).
    sleeper = subprocess.Popen(
        ["sleep", "60"],
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
    pidfile = tmp_path / "nginx.pid"
    pidfile.write_text("%d\n" % sleeper.pid)
    try:
        p = keys("rotate", r, "--export-nginx", out, "--reload-pid", pidfile)
        assert "exported 2 keys" in p.stdout
        assert sleeper.wait(10) == -signal.SIGHUP
        ring = tlsresume.TicketKeyRing(r)
        assert (out / "0.key").read_bytes()[:16] == ring.encrypting()
        # nothing changed: no export, no signal (cron every few minutes)
        p = keys("rotate", r, "--export-nginx", out, "--reload-pid", pidfile)
        assert "exported" not in p.stdout
    finally:
        sleeper.kill()
        sleeper.wait()
