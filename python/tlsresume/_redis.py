"""RedisStore: client sessions shared by many machines through Redis.

A value holds the same bytes as a SessionStore file (the core's entry
codec: header with key, expiry and trust record, then the PEM block, or the
sealed form).  Keys: <prefix><SHA-256 of (host, port, scope) as hex>, a
list of TLS 1.3 tickets (newest first, max_tickets), and the same with ":s"
for the TLS 1.2 session; each value's TTL is its expiry.  Taking a ticket
is one server-side script (redis_scripts/take.lua): one machine gets it.

A store is an optimization: Redis down, slow or refusing means a warning
and a miss (a full handshake), never an exception from get/take/put and
never a wait past `timeout`.  attach() captures new sessions in C into a
queue (no network I/O inside OpenSSL's callback); a thread of this store
writes them to Redis.
"""
import atexit
import os
import threading
import time
import warnings
import weakref

from . import _core
from ._session import _check_context, _error
from ._store import _check_key

_SCRIPTS = os.path.join(os.path.dirname(__file__), "redis_scripts")


def _script(name):
    with open(os.path.join(_SCRIPTS, name), "rb") as f:
        return f.read()


def _import_redis():
    try:
        import redis
    except ImportError:
        raise _error(_core.TLSR_EINVAL, "RedisStore needs redis-py: pip "
                     "install 'tlsresume[redis]'") from None
    return redis


def _client_from_url(redis, url, timeout):
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    try:
        pool = redis.ConnectionPool.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout,
            retry_on_timeout=False, retry=Retry(NoBackoff(), 0),
            health_check_interval=0)
    except (ValueError, TypeError) as e:
        # redis-py's messages name the scheme or field, never the password.
        raise _error(_core.TLSR_EINVAL, "cannot use the Redis URL: %s" % e) \
            from None
    return redis.Redis(connection_pool=pool)


_live = weakref.WeakSet()


@atexit.register
def _flush_all():
    for store in list(_live):
        store.flush(store.timeout * 5)


class RedisStore:
    """Sessions in Redis, keyed by (host, port, scope), shared by every
    process and machine that uses the same Redis and prefix.

    url_or_client: a redis:// (rediss://, unix://) URL, or a redis-py
    client (redis.Redis) of the caller's, which keeps its own timeouts.  seal_key (32 bytes) seals
    entries with AES-256-GCM; lean leaves out the peer certificate;
    attach() restores sessions lean (the certificate kept as bytes,
    decoded only if getpeercert() asks), decode_peer=True on every restore;
    max_tickets TLS 1.3 tickets are kept per key.  timeout (seconds) bounds
    every Redis call made here; after a failure Redis is left alone for
    retry_after seconds.  Sessions come back bound to an ssl.SSLContext:
    pass ssl_context= here or the context to get() / take().
    """

    def __init__(self, url_or_client, *, prefix="tlsresume:", seal_key=None,
                 max_tickets=8, max_lifetime=0, lean=False, decode_peer=False,
                 ssl_context=None, timeout=0.2, retry_after=1.0):
        if not isinstance(prefix, str):
            raise TypeError("prefix must be a str")
        if seal_key is not None and not isinstance(
                seal_key, (bytes, bytearray, memoryview)):
            raise TypeError("seal_key must be 32 bytes or None")
        for name, v in (("max_tickets", max_tickets),
                        ("max_lifetime", max_lifetime)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise TypeError("%s must be an int >= 0" % name)
        if max_tickets > 10000 or max_lifetime > 2**62:
            raise _error(_core.TLSR_EINVAL, "max_tickets or max_lifetime is "
                         "too large")
        for name, v, low in (("timeout", timeout, 1e-3),
                             ("retry_after", retry_after, 0)):
            if (not isinstance(v, (int, float)) or isinstance(v, bool)
                    or not low <= v < 3600):
                raise TypeError("%s must be a number of seconds (%g to "
                                "3600)" % (name, low))
        if ssl_context is not None:
            _check_context(ssl_context)
        key = None if seal_key is None else bytes(seal_key)
        self._codec = _core.Codec(max_lifetime, key, bool(lean))
        # attach()'s restores: the certificate stays bytes (_take_lean).
        self._lean_codec = (self._codec if decode_peer else
                            _core.Codec(max_lifetime, key, bool(lean),
                                        restore_lean=True))
        redis = _import_redis()
        self._redis_errors = (redis.RedisError, OSError)
        if isinstance(url_or_client, (str, bytes)):
            url = os.fsdecode(url_or_client)
            self.client = _client_from_url(redis, url, timeout)
            self._own_client = True
        elif callable(getattr(url_or_client, "register_script", None)):
            self.client = url_or_client
            self._own_client = False
        else:
            raise TypeError("url_or_client must be a redis:// URL or a "
                            "redis.Redis client")
        self.prefix = prefix
        self.max_tickets = max_tickets or 8
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.retry_after = retry_after
        self._take = self.client.register_script(_script("take.lua"))
        self._put = self.client.register_script(_script("put.lua"))
        self._peek = self.client.register_script(_script("get.lua"))
        self._down_until = 0.0
        self._capture = None
        self._writer = None
        self._closed = False
        self._writing = False           # the writer holds a capture
        self._lock = threading.Lock()
        _live.add(self)

    # ---- Redis calls: every failure is a warning and a miss ----

    def _call(self, what, fn):
        """fn()'s result, or None after a warning if Redis failed."""
        if time.monotonic() < self._down_until:
            return None
        try:
            return fn()
        except self._redis_errors as e:
            self._down_until = time.monotonic() + self.retry_after
            warnings.warn("tlsresume: Redis store unavailable (%s: %s): %s"
                          % (type(e).__name__, e, what), RuntimeWarning,
                          stacklevel=3)
            return None

    def _keys(self, host, port, scope):
        k = self.prefix + _core.entry_key(host, port, scope)
        return [k, k + ":s"]

    def _ctx(self, context):
        ctx = context if context is not None else self.ssl_context
        if ctx is None:
            raise TypeError("an ssl.SSLContext is needed to bind the session:"
                            " pass it to get() / take() or ssl_context= to"
                            " RedisStore()")
        _check_context(ctx)
        return ctx

    def _decode(self, value, host, port, scope, ctx, codec=None):
        """The session in value, or None (another key's, expired, refused,
        sealed under another key, damaged, not ours at all)."""
        if not isinstance(value, bytes):
            return None
        try:
            return (codec or self._codec).decode(value, host, port, scope,
                                                 ctx)
        except ValueError as e:             # tlsresume.Error
            warnings.warn("tlsresume: unusable Redis entry for %s:%d: %s"
                          % (host, port, e), RuntimeWarning, stacklevel=4)
            return None

    def _write(self, keys, data, expires, kind):
        return self._call(
            "session not saved",
            lambda: self._put(keys=keys, args=[kind, data, expires,
                                               int(time.time()),
                                               self.max_tickets]))

    # ---- the SessionStore methods ----

    def put(self, host, port, session, *, scope=""):
        """Save a client session for (host, port, scope); True if Redis
        took it, False (with a warning) if not."""
        _check_key(host, port, scope)
        data, expires, kind = self._codec.encode(host, port, scope, session)
        return self._write(self._keys(host, port, scope), data, expires,
                           kind) == 1

    def get(self, host, port, context=None, *, scope=""):
        """Newest usable session for the key (left in Redis), bound to
        context (default: the store's ssl_context), or None."""
        _check_key(host, port, scope)
        ctx = self._ctx(context)
        keys = self._keys(host, port, scope)
        values = self._call("no session from Redis",
                            lambda: self._peek(keys=keys,
                                               args=[self.max_tickets]))
        if not isinstance(values, list):
            return None
        for v in values:
            sess = self._decode(v, host, port, scope, ctx)
            if sess is not None:
                return sess
        return None

    def take(self, host, port, context=None, *, scope=""):
        """The session to resume with, bound to context, or None.  A TLS 1.3
        ticket is removed in the same step that reads it (one taker gets
        it, whichever machine); a TLS 1.2 session stays.  A ticket this
        context refuses (trust rule) is used up all the same."""
        _check_key(host, port, scope)
        return self._take_with(self._codec, host, port, self._ctx(context),
                               scope)

    def _take_lean(self, host, port, context, scope):
        """take() for attach(): the certificate is not decoded."""
        _check_key(host, port, scope)
        return self._take_with(self._lean_codec, host, port,
                               self._ctx(context), scope)

    def _take_with(self, codec, host, port, ctx, scope):
        keys = self._keys(host, port, scope)
        if self._capture is not None and self._writer is None:
            with self._lock:            # a forked child: a writer of its own
                self._start_writer()
        for _ in range(self.max_tickets + 1):
            got = self._call("no session from Redis",
                             lambda: self._take(keys=keys,
                                                args=[int(time.time())]))
            if not got:
                return None
            kind, value = got
            sess = self._decode(value, host, port, scope, ctx, codec)
            if sess is not None or kind != 13:
                return sess
        return None

    def remove(self, host, port, *, scope=""):
        """Remove the key's entries; returns how many Redis keys went."""
        _check_key(host, port, scope)
        keys = self._keys(host, port, scope)
        return self._call("nothing removed",
                          lambda: self.client.delete(*keys)) or 0

    def prune(self):
        """Redis drops expired entries itself (each value's TTL): 0."""
        return 0

    def __len__(self):
        """Entries under the prefix (every ticket counts)."""
        def count():
            n = 0
            pat = self.prefix.replace("\\", "\\\\")
            for ch in "*?[]":
                pat = pat.replace(ch, "\\" + ch)
            for k in self.client.scan_iter(match=pat + "*", count=500):
                t = self.client.type(k)
                n += self.client.llen(k) if t == b"list" else t == b"string"
            return n
        return self._call("cannot count", count) or 0

    # ---- server.session_cache(): the core's own Redis client ----

    def _where(self):
        """(host, port, path, username, password, db) of this store's
        Redis, for the core's client (server caches look sessions up in the
        handshake, in C, without the GIL)."""
        pool = getattr(self.client, "connection_pool", None)
        kw = getattr(pool, "connection_kwargs", None)
        if not isinstance(kw, dict):
            raise TypeError("a server session cache needs a redis.Redis "
                            "client with a connection pool")
        cls = getattr(pool, "connection_class", None)
        if cls is not None and "SSL" in cls.__name__:
            raise _error(_core.TLSR_EINVAL, "a server session cache "
                         "reaches Redis over plain TCP or a Unix socket, "
                         "not TLS (rediss://): use a private network or a "
                         "local TLS tunnel")
        user, password = kw.get("username"), kw.get("password")
        provider = kw.get("credential_provider")
        if provider is not None:
            creds = provider.get_credentials()
            user, password = (None, creds[0]) if len(creds) == 1 else creds
        return (kw.get("host", "localhost"), int(kw.get("port", 6379)),
                kw.get("path"), user, password, int(kw.get("db", 0) or 0))

    def _server_cache(self, ctx, scope, lookup_timeout):
        host, port, path, user, password, db = self._where()
        self._codec.server_cache(
            ctx, scope, None if path else host, port, path, user, password,
            db, self.prefix, max(1, int(self.timeout * 1000)),
            max(1, int(lookup_timeout * 1000)),
            max(1, int(self.retry_after * 1000)))

    # ---- attach(): captures from C, written here ----

    def _attach_context(self, context):
        with self._lock:
            if self._closed:
                raise _error(_core.TLSR_EINVAL, "store is closed")
            if self._capture is None:
                self._capture = _core.Capture()
            self._capture.attach_context(context)
            self._start_writer()

    def _start_writer(self):
        if self._writer is None and not self._closed:
            self._writer = threading.Thread(
                target=_writer_loop, args=(weakref.ref(self),),
                name="tlsresume-redis", daemon=True)
            self._writer.start()

    def _drain_one(self, timeout_ms, writer=False):
        cap = self._capture
        item = cap.pop(self._codec, timeout_ms) if cap is not None else None
        if item is None:
            return False
        if writer:
            self._writing = True
        try:
            host, port, scope, data, expires, kind = item
            self._write(self._keys(host, port, scope), data, expires, kind)
        finally:
            self._writing = False
        return True

    def flush(self, timeout=1.0):
        """Write what attach() captured and is still queued, for at most
        timeout seconds; True if nothing is left."""
        end = time.monotonic() + timeout
        while self._capture is not None and time.monotonic() < end:
            if not self._drain_one(0):
                break
        return self._capture is None or self._capture.pending() == 0

    def close(self):
        """Write what is queued, stop the writer, and disconnect a client
        made from a URL."""
        if self._closed:
            return
        self.flush(self.timeout * 5)
        self._closed = True
        # The writer waits in pop() (a daemon thread: exit does not wait
        # for it); only a write it has started is waited for.
        end = time.monotonic() + self.timeout * 2
        while self._writing and time.monotonic() < end:
            time.sleep(0.001)
        if self._own_client:
            self.client.connection_pool.disconnect()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        kw = getattr(getattr(self.client, "connection_pool", None),
                     "connection_kwargs", {})
        where = kw.get("path") or "%s:%s" % (kw.get("host", "?"),
                                             kw.get("port", "?"))
        return "RedisStore(%r, prefix=%r)" % (where, self.prefix)


def _after_fork_in_child():
    # Threads do not survive fork(): the next take() starts a new writer.
    for store in list(_live):
        store._writer = None
        store._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _writer_loop(ref):
    """Pops captures and writes them while the store lives and is open."""
    while True:
        store = ref()
        if store is None or store._closed:
            return
        try:
            store._drain_one(200, writer=True)
        except Exception as e:      # never let the writer die silently
            warnings.warn("tlsresume: Redis writer: %s" % e, RuntimeWarning)
        del store
