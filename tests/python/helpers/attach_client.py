"""One process, one HTTPS GET through a context attached to a store, made
the way an application would (no tlsresume call at connection time).
Prints JSON: the server's own report (its SSLSocket.session_reused).

usage: attach_client.py VIA PORT CAFILE STORE [HOST]
VIA: wrap_socket, urllib3, requests, asyncio, wrap_bio, http_client,
     httpx (sync: wrap_socket), httpx_async (anyio on asyncio: wrap_bio)
"""
import json
import socket
import ssl
import sys

import tlsresume

via, port, cafile, store_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
host = sys.argv[5] if len(sys.argv) > 5 else "localhost"
url = "https://%s:%d/%s" % (host, port, via)

ctx = ssl.create_default_context(cafile=cafile)
store = tlsresume.SessionStore(store_path)
tlsresume.attach(ctx, store)


def body_of(raw):
    return json.loads(raw.split(b"\r\n\r\n", 1)[1])


if via == "wrap_socket":
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as c:
            c.sendall(b"GET /wrap_socket HTTP/1.0\r\n\r\n")
            data = b""
            while True:
                d = c.recv(65536)
                if not d:
                    break
                data += d
            out = body_of(data)
            out["client_reused"] = c.session_reused
elif via == "http_client":
    import http.client
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
    # 127.0.0.1 as host: no SNI, key by the IP address.
    ctx.check_hostname = False
    conn.request("GET", "/http_client")
    out = json.loads(conn.getresponse().read())
    conn.close()
elif via == "urllib3":
    import urllib3
    with urllib3.PoolManager(ssl_context=ctx) as pm:
        r = pm.request("GET", url)
        out = json.loads(r.data)
elif via == "requests":
    import requests
    import requests.adapters

    class Adapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *args, **kw):
            kw["ssl_context"] = ctx
            return super().init_poolmanager(*args, **kw)

    with requests.Session() as s:
        s.mount("https://", Adapter())
        out = s.get(url).json()
elif via == "asyncio":
    import asyncio

    async def main():
        r, w = await asyncio.open_connection("127.0.0.1", port, ssl=ctx,
                                             server_hostname=host)
        w.write(b"GET /asyncio HTTP/1.0\r\n\r\n")
        data = await r.read()
        res = body_of(data)
        res["client_reused"] = w.get_extra_info("ssl_object").session_reused
        w.close()
        try:
            await w.wait_closed()
        except (ssl.SSLError, OSError):
            pass
        return res

    out = asyncio.run(main())
elif via == "wrap_bio":
    inc, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, outb, server_hostname=host)
    tlsresume.set_peer(obj, port)
    raw = socket.create_connection(("127.0.0.1", port))

    def flush():
        d = outb.read()
        if d:
            raw.sendall(d)

    def until_done(op):
        while True:
            try:
                return op()
            except ssl.SSLWantReadError:
                flush()
                d = raw.recv(65536)
                if not d:
                    return b""
                inc.write(d)

    until_done(obj.do_handshake)
    obj.write(b"GET /wrap_bio HTTP/1.0\r\n\r\n")
    flush()
    data = b""
    while True:
        try:
            d = until_done(lambda: obj.read(65536))
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            break
        if not d:
            break
        data += d
    out = body_of(data)
    out["client_reused"] = obj.session_reused
    raw.close()
elif via == "httpx":
    import httpx
    with httpx.Client(verify=ctx) as client:
        out = client.get(url).json()
elif via == "httpx_async":
    import asyncio
    import httpx

    async def main():
        async with httpx.AsyncClient(verify=ctx) as client:
            return (await client.get(url)).json()

    out = asyncio.run(main())
else:
    raise SystemExit("unknown via " + via)

out["entries"] = len(store)
print(json.dumps(out))
