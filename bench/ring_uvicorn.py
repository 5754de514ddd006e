"""uvicorn with 4 workers: server CPU per connection for a client that
resumes (openssl s_client -sess_in), with TLSRESUME_TICKET_KEYS and
without (each worker's own random keys: ~1 in 4 resumes), and for full
handshakes.  Server CPU is the sum of utime+stime over the uvicorn parent
and its workers (/proc), before and after each batch.  Figures only.

    python3 bench/ring_uvicorn.py [--conns 300] [--jobs 4]
"""
import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
APP_DIR = os.path.join(HERE, "..", "tests", "python", "helpers")
TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def tree(pid):
    pids = [pid]
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        pids.append(int(d))
            except OSError:
                pass
    return pids


def server_cpu(pids):
    total = 0.0
    for p in pids:
        try:
            total += proc_cpu(p)
        except OSError:
            pass
    return total


def s_client(port, version, sess_in=None, sess_out=None):
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
            "-tls" + version.replace(".", "_"), "-ign_eof"]
    if sess_in:
        argv += ["-sess_in", sess_in]
    if sess_out:
        argv += ["-sess_out", sess_out]
    out = subprocess.run(argv, input=b"GET / HTTP/1.0\r\n\r\n",
                         capture_output=True, timeout=30).stdout
    return b"Reused, TLS" in out


def start(certs, ring):
    env = dict(os.environ, PYTHONPATH=APP_DIR)
    env.pop("TLSRESUME_TICKET_KEYS", None)
    if ring:
        env["TLSRESUME_TICKET_KEYS"] = ring
    p = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "asgi_app:app", "--workers", "4",
         "--host", "127.0.0.1", "--port", "0", "--ssl-keyfile", certs[1],
         "--ssl-certfile", certs[0], "--log-level", "info",
         "--no-access-log"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    port, ready = None, 0
    for line in p.stdout:
        m = re.search(r"https://127\.0\.0\.1:(\d+)", line)
        port = port or (int(m.group(1)) if m else None)
        ready += "Application startup complete" in line
        if ready == 4:
            break
    time.sleep(0.5)
    return p, port


def batch(port, version, n, jobs, tmp, resume):
    """(server CPU s per connection, resumed fraction)."""
    first = os.path.join(tmp, "s%s.pem" % version)
    s_client(port, version, sess_out=first)

    def one(i):
        if not resume:
            return s_client(port, version)
        if version == "1.2":
            return s_client(port, version, sess_in=first)
        cur = os.path.join(tmp, "c%d.pem" % (i % jobs))
        if not os.path.exists(cur):
            s_client(port, version, sess_out=cur)
        nxt = cur + ".n%d" % i
        r = s_client(port, version, sess_in=cur, sess_out=nxt)
        os.replace(nxt, cur) if os.path.exists(nxt) else None
        return r

    return one


def measure(proc, port, version, n, jobs, tmp, resume):
    pids = tree(proc.pid)
    one = batch(port, version, n, jobs, tmp, resume)
    before = server_cpu(pids)
    if version == "1.3" and resume:
        # chains: each worker thread keeps its own ticket file
        def chain(j):
            hits = 0
            for i in range(j, n, jobs):
                hits += one(i)
            return hits
        with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
            hits = sum(ex.map(chain, range(jobs)))
    else:
        with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
            hits = sum(ex.map(one, range(n)))
    return (server_cpu(pids) - before) / n, hits / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=300)
    ap.add_argument("--jobs", type=int, default=4)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="tlsr-ring-uv-")
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=localhost"], check=True,
                   capture_output=True)
    ring = os.path.join(tmp, "ring")
    subprocess.run([sys.executable, "-m", "tlsresume", "keys", "init", ring],
                   check=True, capture_output=True)
    print("uvicorn --workers 4, RSA-2048, %d connections per row, %d "
          "clients in parallel; server CPU (parent + workers)" %
          (a.conns, a.jobs))
    rows = {}
    for label, use_ring in (("ring", ring), ("no ring", None)):
        proc, port = start((cert, key), use_ring)
        try:
            for version in ("1.2", "1.3"):
                for resume in (True, False):
                    cpu, frac = measure(proc, port, version, a.conns,
                                        a.jobs, tmp, resume)
                    rows[(label, version, resume)] = cpu
                    print("  %-8s TLS %s %-16s %7.3f ms/conn  resumed %3.0f%%"
                          % (label, version, "resuming client" if resume
                             else "full handshakes", cpu * 1e3, frac * 100))
        finally:
            proc.terminate()
            proc.wait(10)
    for version in ("1.2", "1.3"):
        full = rows[("ring", version, False)]
        res = rows[("ring", version, True)]
        nor = rows[("no ring", version, True)]
        print("  TLS %s: full/resumed with ring %.2fx; resuming client, "
              "no ring / ring %.2fx" % (version, full / res, nor / res))
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
