"""One process, one connection through a context attached to a store, with
the trust settings a test asks for.  Prints JSON: whether the handshake
succeeded, whether it resumed (client side and the server's -www page), or
the error.

usage: trust_client.py PORT STORE MODE [CAFILE...] [--host NAME]
MODE: default    ssl.create_default_context() (the system's trust store)
      insecure   verification off, no host name check
      ca         verify against the CAFILEs, check the host name
      nohost     verify against the CAFILEs, no host name check
"""
import json
import socket
import ssl
import sys

import tlsresume

args = sys.argv[1:]
host = "localhost"
if "--host" in args:
    i = args.index("--host")
    host = args[i + 1]
    del args[i:i + 2]
port, store_path, mode, cafiles = int(args[0]), args[1], args[2], args[3:]

ctx = ssl.create_default_context()
if mode == "insecure":
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
elif mode in ("ca", "nohost"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    for f in cafiles:
        ctx.load_verify_locations(cafile=f)
    ctx.check_hostname = mode == "ca"
tlsresume.attach(ctx, tlsresume.SessionStore(store_path))

out = {"ok": False, "reused": False, "server_reused": False}
try:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as c:
            c.sendall(b"GET / HTTP/1.0\r\n\r\n")
            page = b""
            while True:
                d = c.recv(65536)
                if not d:
                    break
                page += d
            out.update(ok=True, reused=c.session_reused,
                       server_reused=b"Reused, " in page)
except (ssl.SSLError, OSError) as e:
    out["error"] = "%s: %s" % (type(e).__name__, e)
print(json.dumps(out))
