"""attach() keys a connection by (host, port) only when it knows the port of
the TLS server itself; otherwise the connection is neither resumed nor
saved, and never fails because of tlsresume.  Real servers on 127.0.0.1."""
import asyncio
import json
import os
import socket
import ssl
import threading

import httpx
import pytest

import tlsresume
from conftest import server_reports


def _get(ctx, port, path="/"):
    """One ordinary HTTPS GET through ctx (saves its session if attached)."""
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                         server_hostname="localhost") as c:
        c.sendall(b"GET " + path.encode() + b" HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            d = c.recv(65536)
            if not d:
                break
            data += d
    return json.loads(data.split(b"\r\n\r\n", 1)[1])


def test_asyncio_inner_handshake_never_gets_outer_connections_port(
        py_server, certs, tmp_path):
    # An SSLObject handshake started from inside an asyncio protocol
    # callback has the OUTER connection's SSLProtocol on its call stack.
    # That transport's port is another connection's: the inner one must not
    # be offered the session stored for it.
    srv = py_server("tls12-ticket")
    store = tlsresume.SessionStore(tmp_path / "st")
    ctx = tlsresume.attach(ssl.create_default_context(cafile=str(certs[0])),
                           store)
    _get(ctx, srv.port)
    assert store.get("localhost", srv.port, ctx) is not None
    inner, state = {}, {}

    class Outer(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport
            transport.write(b"GET /outer HTTP/1.0\r\n\r\n")

        def data_received(self, data):
            if "obj" in inner:
                return
            # Another host's connection, made over memory BIOs here.
            obj = ctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(),
                               server_hostname="localhost")
            inner["obj"] = obj
            try:
                obj.do_handshake()
            except ssl.SSLWantReadError:
                pass
            try:
                inner["offered"] = obj.session is not None
            except ValueError:      # a fresh, empty session: not offered
                inner["offered"] = False

        def connection_lost(self, exc):
            state["done"].set_result(None)

    async def main():
        loop = asyncio.get_running_loop()
        state["done"] = loop.create_future()
        await loop.create_connection(Outer, "127.0.0.1", srv.port, ssl=ctx,
                                     server_hostname="localhost")
        await asyncio.wait_for(state["done"], 20)

    asyncio.run(main())
    assert inner.get("offered") is False
    assert server_reports(srv)[1]["reused"] is True   # the outer resumed


def test_start_tls_connection_is_not_keyed_by_transport_peer(
        py_server, certs, tmp_path):
    # loop.start_tls() upgrades a transport whose peer may be a proxy (an
    # HTTP CONNECT tunnel): its port is not the TLS server's, so such a
    # connection is neither offered a stored session nor saved.
    srv = py_server("tls12-ticket")
    store = tlsresume.SessionStore(tmp_path / "st")
    ctx = tlsresume.attach(ssl.create_default_context(cafile=str(certs[0])),
                           store)
    _get(ctx, srv.port)
    before = len(store)

    async def main():
        loop = asyncio.get_running_loop()
        got = loop.create_future()

        class P(asyncio.Protocol):
            data = b""

            def data_received(self, data):
                self.data += data

            def connection_lost(self, exc):
                if not got.done():
                    got.set_result(self.data)

        proto = P()
        tr, _ = await loop.create_connection(lambda: proto, "127.0.0.1",
                                             srv.port)
        tls = await loop.start_tls(tr, proto, ctx,
                                   server_hostname="localhost")
        reused = tls.get_extra_info("ssl_object").session_reused
        tls.write(b"GET /start_tls HTTP/1.0\r\n\r\n")
        data = await asyncio.wait_for(got, 20)
        tls.close()
        return reused, json.loads(data.split(b"\r\n\r\n", 1)[1])

    client_reused, report = asyncio.run(main())
    assert client_reused is False
    assert report["reused"] is False
    assert len(store) == before


def test_attach_over_unix_socket_connects_without_resumption(certs,
                                                            tmp_path):
    # An AF_UNIX peer has a path, not a port: the connection works (full
    # handshake), is not keyed by a guess and saves nothing.
    path = str(tmp_path / "tls.sock")
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(str(certs[0]), str(certs[1]))
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(path)
    lsock.listen(4)
    served = []

    def serve():
        for _ in range(2):
            conn, _ = lsock.accept()
            try:
                with sctx.wrap_socket(conn, server_side=True) as s:
                    s.recv(1024)
                    served.append(s.session_reused)
                    s.sendall(b"ok")
            except (ssl.SSLError, OSError):
                served.append(None)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        store = tlsresume.SessionStore(tmp_path / "st")
        ctx = tlsresume.attach(
            ssl.create_default_context(cafile=str(certs[0])), store)
        for _ in range(2):
            raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            raw.connect(path)
            with ctx.wrap_socket(raw, server_hostname="localhost") as c:
                c.sendall(b"hi")
                assert c.recv(16) == b"ok"
                assert c.session_reused is False
        t.join(20)
        assert served == [False, False]
        assert len(store) == 0
    finally:
        lsock.close()
        if os.path.exists(path):
            os.unlink(path)


def test_set_peer_rejects_a_port_that_is_not_a_port_number(tmp_path):
    import pytest
    ctx = tlsresume.attach(ssl.create_default_context(),
                           tlsresume.SessionStore(tmp_path / "st"))
    obj = ctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(),
                       server_hostname="localhost")
    with pytest.raises(TypeError):
        tlsresume.set_peer(obj, "443")
    with pytest.raises(TypeError):
        tlsresume.set_peer(obj, 443, host=b"localhost")
    for bad in (0, 65536, 2**40, -1):
        with pytest.raises(tlsresume.Error):
            tlsresume.set_peer(obj, bad)


def _connect_proxy():
    """A minimal HTTP CONNECT proxy on 127.0.0.1 (threads); returns its
    listening socket (close it to stop)."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)

    def pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def handle(c):
        head = b""
        while b"\r\n\r\n" not in head:
            d = c.recv(4096)
            if not d:
                c.close()
                return
            head += d
        target = head.split(b" ")[1].decode()
        host, port = target.rsplit(":", 1)
        up = socket.create_connection(("127.0.0.1", int(port)))
        c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=pipe, args=(c, up), daemon=True).start()
        threading.Thread(target=pipe, args=(up, c), daemon=True).start()

    def serve():
        while True:
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(c,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return lsock


def test_http_client_tunnel_is_keyed_by_target_port_not_proxy_port(
        py_server, certs, tmp_path):
    # Through a CONNECT proxy the socket's peer is the proxy: keying by its
    # port would offer one target's session to any other port of that host
    # behind the same proxy.  The key is the tunnel's target port.
    import http.client
    srv = py_server("tls12-ticket")
    proxy = _connect_proxy()
    try:
        store = tlsresume.SessionStore(tmp_path / "st")
        ctx = tlsresume.attach(
            ssl.create_default_context(cafile=str(certs[0])), store)
        pport = proxy.getsockname()[1]
        for _ in range(2):
            conn = http.client.HTTPSConnection("127.0.0.1", pport,
                                               context=ctx, timeout=20)
            conn.set_tunnel("localhost", srv.port)
            conn.request("GET", "/tunnel")
            json.loads(conn.getresponse().read())
            conn.close()
        assert {(e.host, e.port) for e in store} == {("localhost", srv.port)}
        assert [r["reused"] for r in server_reports(srv)] == [False, True]
    finally:
        proxy.close()


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_httpx_proxy_tunnel_is_keyed_by_target_port_not_proxy_port(
        py_server, certs, tmp_path, flavour):
    # httpx (httpcore) tunnels through a CONNECT proxy: sync over
    # wrap_socket on the proxy's socket, async over an anyio TLSStream on
    # it.  Either way the key is the target's port, never the proxy's.
    srv = py_server("tls12-ticket")
    proxy = _connect_proxy()
    try:
        store = tlsresume.SessionStore(tmp_path / "st")
        ctx = tlsresume.attach(
            ssl.create_default_context(cafile=str(certs[0])), store)
        proxy_url = "http://127.0.0.1:%d" % proxy.getsockname()[1]
        url = "https://localhost:%d/httpx-tunnel" % srv.port
        for _ in range(2):
            if flavour == "sync":
                with httpx.Client(verify=ctx, proxy=proxy_url) as c:
                    c.get(url).json()
            else:
                async def get():
                    async with httpx.AsyncClient(verify=ctx,
                                                 proxy=proxy_url) as c:
                        return (await c.get(url)).json()
                asyncio.run(get())
        assert {(e.host, e.port) for e in store} == {("localhost", srv.port)}
        assert [r["reused"] for r in server_reports(srv)] == [False, True]
    finally:
        proxy.close()
