"""One "machine" of a fleet: a new process, its own working directory, an
HTTPS GET through a context attached to a RedisStore.  Prints JSON: the
server's own report.

usage: redis_client.py PORT CAFILE REDIS_URL [GETS]
"""
import json
import os
import socket
import ssl
import sys
import tempfile

import tlsresume

port, cafile, url = int(sys.argv[1]), sys.argv[2], sys.argv[3]
gets = int(sys.argv[4]) if len(sys.argv) > 4 else 1
os.chdir(tempfile.mkdtemp())        # no disk shared with the other machine

ctx = ssl.create_default_context(cafile=cafile)
store = tlsresume.RedisStore(url)
tlsresume.attach(ctx, store)
reports = []
for _ in range(gets):
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as c:
            c.sendall(b"GET /redis HTTP/1.0\r\n\r\n")
            data = b""
            while True:
                d = c.recv(65536)
                if not d:
                    break
                data += d
    reports.append(json.loads(data.split(b"\r\n\r\n", 1)[1])["reused"])
store.close()       # writes what was captured before the process ends
print(json.dumps({"reused": reports}))
