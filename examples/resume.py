"""Demo resumer (Python): offer a saved session file to the server.

usage: python3 examples/resume.py HOST PORT FILE CAFILE

Loads FILE (PEM or DER, from any process or tool) with tlsresume.loads,
connects with a verifying ssl context and prints the demo's one line:
"New"/"Reused", the server's own verdict and the client CPU times.
"""
import socket
import ssl
import sys
import time

import tlsresume


def main():
    host, port, path, cafile = sys.argv[1], int(sys.argv[2]), *sys.argv[3:5]
    ctx = ssl.create_default_context(cafile=cafile)
    with open(path, "rb") as f:
        data = f.read()
    t0 = time.process_time()
    sess = tlsresume.loads(data, ctx)
    load_us = (time.process_time() - t0) * 1e6
    with socket.create_connection((host, port), timeout=10) as raw:
        t0 = time.process_time()
        with ctx.wrap_socket(raw, server_hostname=host, session=sess) as s:
            hs_us = (time.process_time() - t0) * 1e6
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            page = b""
            while chunk := s.recv(65536):
                page += chunk
            verdict = "Reused" if s.session_reused else "New"
    server = next((line for line in page.decode("latin-1").splitlines()
                   if line.startswith(("Reused,", "New,"))), "none")
    print(f"resume {verdict} handshake_cpu_us={hs_us:.0f} "
          f"load_cpu_us={load_us:.0f} server={server}")


if __name__ == "__main__":
    main()
