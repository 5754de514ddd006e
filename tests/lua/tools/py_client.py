"""One Python ssl client connection, for the Lua suite's interop specs.

usage: py_client.py PORT 1.2|1.3 SESS_IN|- SESS_OUT|-
Prints client_reused=true|false and server=Reused|New (the s_server -www
page's own verdict); saves the session (PEM, 0600) with tlsresume.dumps.
"""
import os, socket, ssl, sys
import tlsresume
port, version, sess_in, sess_out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
v = ssl.TLSVersion.TLSv1_3 if version == "1.3" else ssl.TLSVersion.TLSv1_2
ctx.minimum_version = ctx.maximum_version = v
session = None
if sess_in != "-":
    with open(sess_in, "rb") as f:
        session = tlsresume.loads(f.read(), ctx)
raw = socket.create_connection(("127.0.0.1", port), timeout=10)
s = ctx.wrap_socket(raw, session=session)
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
page = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    page += b
print("client_reused=%s" % ("true" if s.session_reused else "false"))
body = page.decode("latin-1").split("HTTP/1.0 200 ok", 1)[-1]
verdict = "Reused" if "\nReused, " in body else ("New" if "\nNew, " in body else "None")
print("server=" + verdict)
if sess_out != "-":
    data = tlsresume.dumps(s.session, format="pem")
    fd = os.open(sess_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
s.close()
