"""One Python client connection through a RedisStore, for the OpenResty
spec: takes a session for (127.0.0.1, PORT) from Redis, connects with it
(no verification, as the nginx front's connections), prints the server's
page ("reused=r|. protocol=...") and puts the connection's session back.

usage: py_redis_client.py PORT REDIS_URL
"""
import socket
import ssl
import sys

import tlsresume

port, url = int(sys.argv[1]), sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
store = tlsresume.RedisStore(url, ssl_context=ctx, timeout=2)
sess = store.take("127.0.0.1", port)
raw = socket.create_connection(("127.0.0.1", port), timeout=10)
s = ctx.wrap_socket(raw, server_hostname="localhost", session=sess)
s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
page = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    page += b
new = s.session      # with the ticket that came with the response
s.close()
print("offered=%s %s" % ("yes" if sess is not None else "no",
                         page.split(b"\r\n\r\n", 1)[1].decode().strip()))
print("stored=%s" % store.put("127.0.0.1", port, new))
