"""One request from a fresh process through an attach()ed context with
early_data=True; prints JSON with what the server answered.

usage: early_client.py LIB URL CAFILE STORE METHOD
LIB: http.client, requests, httpx, httpx-async."""
import asyncio
import http.client
import json
import ssl
import sys
import urllib.parse

import tlsresume

lib, url, ca, path, method = sys.argv[1:6]
store = tlsresume.SessionStore(path)
ctx = ssl.create_default_context(cafile=ca)
tlsresume.attach(ctx, store, early_data=True)
body = b"x=1" if method == "POST" else None
u = urllib.parse.urlsplit(url)

if lib == "http.client":
    conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx)
    conn.request(method, u.path, body=body)
    r = conn.getresponse()
    out = {"status": r.status, "early": r.getheader("X-Early"),
           "body": r.read().decode()}
    out["peercert"] = conn.sock.getpeercert()
    out["peercert_der"] = conn.sock.getpeercert(True).hex()
    conn.close()
elif lib == "requests":
    s = tlsresume.requests_session(store, ctx, early_data=True)
    r = s.request(method, url, data=body)
    out = {"status": r.status_code, "early": r.headers.get("X-Early"),
           "body": r.text}
elif lib == "httpx":
    import httpx
    with httpx.Client(verify=ctx) as c:
        r = c.request(method, url, content=body)
    out = {"status": r.status_code, "early": r.headers.get("X-Early"),
           "body": r.text}
else:
    import httpx

    async def main():
        async with httpx.AsyncClient(verify=ctx) as c:
            return await c.request(method, url, content=body)
    r = asyncio.run(main())
    out = {"status": r.status_code, "early": r.headers.get("X-Early"),
           "body": r.text}
print(json.dumps(out))
