"""TLS 1.3 echo servers on 127.0.0.1, free port, for clients that read and
write one connection from two threads.

Prints "PORT n", then one JSON line per connection: what ITS OWN SSLSocket
says (session_reused).
usage: echo_server.py CERT KEY KIND   (KIND: ws: websockets sync server;
                                       raw: TLS echo, one thread a socket)
"""
import json
import socket
import ssl
import sys
import threading

cert, key, kind = sys.argv[1:4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3


def report(tls):
    print(json.dumps({"reused": tls.session_reused}), flush=True)


if kind == "ws":
    from websockets.sync.server import serve

    def echo(ws):
        report(ws.socket)
        for msg in ws:
            ws.send(msg)

    with serve(echo, "127.0.0.1", 0, ssl=ctx) as srv:
        print("PORT %d" % srv.socket.getsockname()[1], flush=True)
        srv.serve_forever()
else:
    def echo(raw):
        try:
            with ctx.wrap_socket(raw, server_side=True) as tls:
                report(tls)
                while True:
                    d = tls.recv(65536)
                    if not d:
                        break
                    tls.sendall(d)
        except (ssl.SSLError, OSError):
            pass

    lsock = socket.create_server(("127.0.0.1", 0))
    print("PORT %d" % lsock.getsockname()[1], flush=True)
    while True:
        conn, _ = lsock.accept()
        threading.Thread(target=echo, args=(conn,), daemon=True).start()
