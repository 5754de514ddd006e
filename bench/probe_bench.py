"""Probe bench (issue 11): wall time per connection of `tlsresume probe`
next to `openssl s_client` making the same connections, and next to
`sslyze --resum --early_data` on the same servers, with each tool's verdict
beside the server's own word (its -www page says "Reused" or "New", from
the server's SSL_session_reused).

    python bench/probe_bench.py [--sslyze PATH]      (figures, not a test)
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import tlsresume

SERVERS = [("default", []), ("-no_ticket", ["-no_ticket"]),
           ("-no_cache -no_ticket", ["-no_cache", "-no_ticket"]),
           ("-num_tickets 0", ["-num_tickets", "0"])]


def start(cert, key, flags, www=True):
    p = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:0",
                          "-cert", cert, "-key", key]
                         + (["-www"] if www else ["-early_data"]) + flags,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    for line in p.stdout:
        m = re.search(r"ACCEPT 127\.0\.0\.1:(\d+)", line)
        if m:
            return p, int(m.group(1))
    raise RuntimeError("s_server did not start")


def s_client(port, cafile, version, extra):
    """One s_client process: GET /, returns (server said Reused, output)."""
    p = subprocess.run(
        ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
         "-CAfile", cafile, "-ign_eof", version] + extra,
        input="GET / HTTP/1.0\r\n\r\n", capture_output=True, text=True,
        timeout=20)
    return "Reused, TLSv" in p.stdout.split("<pre>")[-1] if "<pre>" in \
        p.stdout else None, p.stdout


def server_word(port, cafile, tries, d):
    """The server's own verdict for session IDs, TLS 1.2 tickets, TLS 1.3
    (s_client -sess_out / -sess_in chains, reading the -www page)."""
    out = {}
    for name, version, extra in (("session_id", "-tls1_2", ["-no_ticket"]),
                                 ("ticket_tls12", "-tls1_2", []),
                                 ("tls13", "-tls1_3", [])):
        sess = os.path.join(d, name + ".pem")
        s_client(port, cafile, version, extra + ["-sess_out", sess])
        n = 0
        for _ in range(tries):
            if not os.path.exists(sess):
                break
            reused, text = s_client(port, cafile, version,
                                    extra + ["-sess_in", sess, "-sess_out",
                                             sess])
            # A TLS 1.2 "ticket" resumption counts only with a ticket (a
            # server with tickets off resumes such a client by its ID).
            n += bool(reused) and (name != "ticket_tls12"
                                   or "session ticket" in text)
        out[name] = n
    return out


def sslyze(path, port, cafile):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        t0 = time.perf_counter()
        subprocess.run([path, "--resum", "--early_data", "--json_out",
                        f.name, "127.0.0.1:%d" % port],
                       capture_output=True, text=True, timeout=300)
        wall = time.perf_counter() - t0
        try:
            d = json.load(open(f.name))
            r = d["server_scan_results"][0]["scan_result"]
            res = r["session_resumption"]["result"]
            ed = r["tls_1_3_early_data"]["result"]
            return wall, {
                "session_id": "%s (%s/%s)" % (
                    res["session_id_resumption_result"],
                    res["session_id_successful_resumptions_count"],
                    res["session_id_attempted_resumptions_count"]),
                "ticket_tls12": res["tls_ticket_resumption_result"],
                "early_data": ed["supports_early_data"]}
        except (ValueError, KeyError, IndexError, TypeError) as e:
            return wall, {"error": repr(e)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sslyze", default=shutil.which("sslyze"))
    ap.add_argument("--tries", type=int, default=5)
    a = ap.parse_args()
    d = tempfile.mkdtemp()
    cert, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True,
                   capture_output=True)
    print("server | mechanism | server's word | probe | sslyze")
    totals = {"probe": 0.0, "probe_conns": 0, "s_client": 0.0,
              "s_client_conns": 0, "sslyze": 0.0}
    for label, flags in SERVERS:
        proc, port = start(cert, key, flags)
        try:
            t0 = time.perf_counter()
            r = tlsresume.probe("127.0.0.1", port, cafile=cert,
                                tries=a.tries)
            wall = time.perf_counter() - t0
            totals["probe"] += wall
            totals["probe_conns"] += len(r.connections)
            # s_client making the same number of connections, one process
            # each (sess_out / sess_in chain, as the seed documents do).
            t0 = time.perf_counter()
            for i in range(len(r.connections)):
                s_client(port, cert, "-tls1_3" if i % 2 else "-tls1_2", [])
            totals["s_client"] += time.perf_counter() - t0
            totals["s_client_conns"] += len(r.connections)
            word = server_word(port, cert, a.tries, d)
            yz_wall, yz = (sslyze(a.sslyze, port, cert) if a.sslyze
                           else (0.0, {}))
            totals["sslyze"] += yz_wall
            for m in ("session_id", "ticket_tls12", "tls13"):
                c = getattr(r, m)
                print("%s | %s | %d/%d | %d/%d | %s" % (
                    label, m, word[m], a.tries, c["resumed"], c["attempts"],
                    yz.get(m, "(not tested)" if m == "tls13" else
                           yz.get("error", "-"))))
        finally:
            proc.kill()
            proc.wait()
    proc, port = start(cert, key, ["-tls1_3"], www=False)
    try:
        r = tlsresume.probe("127.0.0.1", port, cafile=cert, tries=a.tries,
                            tls="1.3", early_data=True)
        yz_wall, yz = (sslyze(a.sslyze, port, cert) if a.sslyze
                       else (0.0, {}))
        print("-early_data | 0-RTT | accepted (s_server prints it) | "
              "%d/%d accepted, replay %s | supports_early_data=%s" % (
                  r.early_data["accepted"], r.early_data["attempts"],
                  "accepted" if r.early_data["replay_accepted"]
                  else "refused", yz.get("early_data")))
    finally:
        proc.kill()
        proc.wait()
    pp = totals["probe"] / totals["probe_conns"]
    sp = totals["s_client"] / totals["s_client_conns"]
    print()
    print("probe: %d connections, %.2f ms per connection (wall)"
          % (totals["probe_conns"], 1000 * pp))
    print("openssl s_client (one process per connection): %.2f ms per"
          " connection; ratio s_client/probe %.1fx" % (1000 * sp, sp / pp))
    if a.sslyze:
        print("sslyze --resum --early_data: %.2f s for the 4 servers, probe"
              " %.2f s: ratio sslyze/probe %.1fx" % (
                  totals["sslyze"], totals["probe"],
                  totals["sslyze"] / totals["probe"]))
    shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
