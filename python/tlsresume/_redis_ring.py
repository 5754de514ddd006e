"""RedisTicketKeyRing: one ticket key ring per prefix in Redis (issue 12).

Redis holds, under a prefix (default "tlsresume:ring:"):
  <prefix>conf         the ring.conf text (written once, by `keys init`)
  <prefix>key:<16hex>  one key file's bytes, named by its start as on disk;
                       TTL: the key's expiry (start + 7 days until its
                       successor is known)
  <prefix>keys         the set of those <16hex> names (a read is one step)
  <prefix>lock         the rotation lock: SET NX PX with a random token
OpenSSL's callback never waits on Redis: each process mirrors the ring
into a private directory (0700, files 0600) that the core's disk ring
serves from (a stat at most once a second, last good keys kept).  A daemon
thread copies Redis -> mirror every `sync` seconds; when a rotation is due
it takes the lock, runs the core's own rotation on a scratch copy of what
Redis holds (the disk ring's schedule, to the second) and publishes the
new keys with SET NX: a key name is never overwritten, so concurrent
rotators converge on the first key written.  The mirror only ever holds
keys that Redis held.  Redis down: the mirror stays (last keys, one
warning); Redis back empty: the processes publish their ring again (NX).
"""
import atexit
import os
import re
import shutil
import tempfile
import threading
import time
import urllib.parse
import warnings
import weakref

from . import _core
from ._redis import _client_from_url, _import_redis
from ._ring import INIT_FORMATS, TicketKeyRing
from ._session import _error

SCHEMES = ("redis://", "rediss://", "unix://")
DEFAULT_PREFIX = "tlsresume:ring:"
MAX_LIFE = 7 * 86400            # TLSR_RING_MAX_LIFE
LOCK_MS = 10000
EIO, ECORRUPT = -18, -21        # TLSR_EIO, TLSR_ECORRUPT (csrc/tlsresume.h)

_READ = """
local out = {redis.call('GET', KEYS[1])}
for _, m in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local v = redis.call('GET', ARGV[1] .. m)
  if v then out[#out + 1] = m; out[#out + 1] = v end
end
return out
"""
# KEYS: key, index; ARGV: bytes, expiry (Unix ms), index member
_ADD = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PXAT', ARGV[2]) then
  redis.call('SADD', KEYS[2], ARGV[3])
  return 1
end
return 0
"""
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def is_url(spec):
    return isinstance(spec, str) and spec.startswith(SCHEMES)


def open_ring(spec, **kw):
    """A RedisTicketKeyRing for a redis:// URL, else a disk ring."""
    if isinstance(spec, TicketKeyRing):
        return spec
    if is_url(spec):
        return RedisTicketKeyRing(spec, **kw)
    return TicketKeyRing(spec)


def redact(url):
    """The URL without its password (for messages and reprs): the one
    before the @, and unix://'s ?password=."""
    url = re.sub(r"([?&]password=)[^&#]*", r"\1***", url)
    return re.sub(r"^([a-z]+://)([^@/]*?)(:[^@/]*)?@",
                  lambda m: m.group(1) + m.group(2)
                  + (":***" if m.group(3) else "") + "@", url)


def _split_url(url):
    """(redis-py URL, prefix, sync, timeout): ours are query parameters."""
    parts = urllib.parse.urlsplit(url)
    keep, opts = [], {}
    for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
        if k in ("prefix", "sync", "timeout"):
            opts[k] = v
        else:
            keep.append((k, v))
    rest = parts._replace(query=urllib.parse.urlencode(keep)).geturl()
    try:
        sync = float(opts.get("sync", 2.0))
        timeout = float(opts.get("timeout", 0.5))
    except ValueError:
        raise _error(_core.TLSR_EINVAL, "%s: sync= and timeout= are "
                     "seconds" % redact(url)) from None
    if not (0.05 <= sync <= 3600 and 0.01 <= timeout <= 60):
        raise _error(_core.TLSR_EINVAL, "%s: sync= must be 0.05..3600 s, "
                     "timeout= 0.01..60 s" % redact(url))
    return rest, opts.get("prefix", DEFAULT_PREFIX), sync, timeout


def _parse_conf(text):
    """ring.conf text -> {cipher, origin, period, keep}, or None."""
    m = re.fullmatch(rb"tlsresume-ring 1\ncipher (aes256|aes128)\norigin "
                     rb"(\d+)\nperiod (\d+)\nkeep (\d+)\n", text or b"")
    if not m:
        return None
    return {"aes256": m.group(1) == b"aes256", "origin": int(m.group(2)),
            "period": int(m.group(3)), "keep": int(m.group(4))}


def _expired(starts, i, keep, now):
    """tlsri_ring_role()'s EXPIRED for the i-th of sorted starts."""
    cap = starts[i] + MAX_LIFE
    end = starts[i + 1] if i + 1 < len(starts) else 0
    x = min(end + keep, cap) if end else 0
    return now >= cap or (x != 0 and now >= x and end <= now)


def due(conf, starts, now):
    """tlsri_ring_due(): would the core's rotation change the ring?"""
    p, o = conf["period"], conf["origin"]
    ps = o + (now - o) // p * p
    starts = sorted(starts)
    if not any(ps <= s <= now for s in starts) or ps + p not in starts:
        return True
    return any(_expired(starts, i, conf["keep"], now)
               for i in range(len(starts)))


def _write(dirpath, name, data):
    """dirpath/name = data: an O_EXCL 0600 temporary renamed over it."""
    tmp = os.path.join(dirpath, ".tmp-%d-%s" % (os.getpid(),
                                                os.urandom(6).hex()))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                 | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(dirpath, name))
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _key_file(start):
    return "%016x.key" % start


def _mkdtemp():
    """A private directory named after this process; mirrors of our
    processes that are gone (kill -9: no atexit) are removed first."""
    run = os.environ.get("XDG_RUNTIME_DIR")
    base = run if run and os.path.isdir(run) and os.access(run, os.W_OK) \
        else tempfile.gettempdir()
    try:
        for name in os.listdir(base):
            m = re.fullmatch(r"tlsresume-ring-(\d+)-\w+", name)
            path = os.path.join(base, name)
            if m and os.lstat(path).st_uid == os.geteuid() \
                    and not _alive(int(m.group(1))):
                shutil.rmtree(path, ignore_errors=True)
    except OSError:
        pass
    return tempfile.mkdtemp(prefix="tlsresume-ring-%d-" % os.getpid(),
                            dir=base)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True         # someone else's: not ours to tell
    return True


class RedisTicketKeyRing(TicketKeyRing):
    """A ticket key ring in Redis, served from a private local mirror
    (removed by close() or at exit, or, after a kill, by the user's next
    process that opens a ring; the ring lives until then).

    url: redis://[:PASSWORD@]HOST:PORT/DB (rediss://, unix://) with our
    optional query parameters prefix= (one ring per prefix, default
    "tlsresume:ring:"), sync= (seconds between Redis reads, default 2) and
    timeout= (socket timeout, default 0.5).  Opening needs the ring in
    Redis (made by `tlsresume keys init URL` or init()); Redis unreachable
    or no ring there is an Error: never keys no other machine has.
    background: the sync thread (rotates when due); the CLI needs none.
    """

    def __init__(self, url, *, background=True):
        if not isinstance(url, str) or not is_url(url):
            raise TypeError("url must be a redis://, rediss:// or unix:// "
                            "URL")
        self.url = redact(url)
        rest, self.prefix, self.sync_interval, self.timeout = _split_url(url)
        redis = _import_redis()
        self._redis = redis
        self._errors = (redis.RedisError, OSError)
        self.client = _client_from_url(redis, rest, self.timeout)
        self._read = self.client.register_script(_READ)
        self._add = self.client.register_script(_ADD)
        self._unlock = self.client.register_script(_UNLOCK)
        self._conf_text = None
        self._failing = False
        self._stop = threading.Event()
        self._thread = None
        self._mirror = _mkdtemp()
        self._owner = os.getpid()
        try:
            self.sync()
            TicketKeyRing.__init__(self, self._mirror)
        except BaseException:
            shutil.rmtree(self._mirror, ignore_errors=True)
            raise
        _live.add(self)         # kept (and its thread) until close()
        if background:
            self._start()

    # ---- Redis ----

    def _k(self, name):
        return self.prefix + name

    def _failed(self, e):
        down = isinstance(e, (OSError, self._redis.ConnectionError,
                              self._redis.TimeoutError))
        return _error(EIO, "Redis at %s %s (%s: %s)" % (
            self.url, "unreachable" if down else "failed",
            type(e).__name__, e))

    def _fetch(self):
        """(conf text or None, {start: key bytes}) as Redis holds them."""
        try:
            got = self._read(keys=[self._k("conf"), self._k("keys")],
                             args=[self._k("key:")])
        except self._errors as e:
            raise self._failed(e) from None
        keys = {}
        for i in range(1, len(got) - 1, 2):
            m = re.fullmatch(rb"[0-9a-f]{16}", got[i] or b"")
            if m:
                keys[int(got[i], 16)] = got[i + 1]
        return got[0] if got else None, keys

    def _call(self, fn, *a, **kw):
        try:
            return fn(*a, **kw)
        except self._errors as e:
            raise self._failed(e) from None

    def _publish(self, start, data, expires):
        """SET NX one key with its TTL: 1 if ours went in, 0 if one was
        there already (the first writer wins; never overwritten)."""
        ms = (expires or start + MAX_LIFE) * 1000
        return self._call(self._add, keys=[self._k("key:%016x" % start),
                                           self._k("keys")],
                          args=[data, ms, "%016x" % start])

    def _lock(self, wait):
        token = os.urandom(16).hex()
        end = time.monotonic() + wait
        while True:
            if self._call(self.client.set, self._k("lock"), token, nx=True,
                          px=LOCK_MS):
                return token
            if time.monotonic() >= end:
                return None
            time.sleep(0.05)

    def _release(self, token):
        try:
            self._unlock(keys=[self._k("lock")], args=[token])
        except self._errors:
            pass                # it expires by itself (PX)

    # ---- mirror ----

    def _key_len(self, conf):
        return 80 if conf["aes256"] else 48

    def sync(self):
        """Copy the ring from Redis into the mirror (the C ring sees it at
        its next once-a-second stat); returns the starts of Redis's keys
        (None: nothing taken).  Raises Error if Redis cannot be read, or
        holds no ring that this process could start with."""
        conf_text, keys = self._fetch()
        conf = _parse_conf(conf_text)
        if conf_text is None and self._conf_text is not None:
            self._republish()           # Redis lost it (restart, flush)
            return None
        if conf is None:
            raise _error(_core.TLSR_ENOTFOUND if conf_text is None
                         else ECORRUPT,
                         "no ticket key ring in Redis at %s prefix %r (create "
                         "it with: tlsresume keys init URL)"
                         % (self.url, self.prefix) if conf_text is None else
                         "the ring conf in Redis at %s prefix %r is malformed"
                         % (self.url, self.prefix))
        if self._conf_text is not None and conf_text != self._conf_text:
            raise _error(ECORRUPT, "the ring in Redis at %s prefix "
                         "%r was re-created with other settings; keeping the "
                         "last keys (restart to take it)"
                         % (self.url, self.prefix))
        want = self._key_len(conf)
        keys = {s: v for s, v in keys.items() if len(v) == want}
        if not keys:
            if self._conf_text is None:
                raise _error(ECORRUPT, "the ring in Redis at %s "
                             "prefix %r has no keys (run: tlsresume keys "
                             "rotate URL)" % (self.url, self.prefix))
            return None                 # keep the last keys
        d = self._mirror
        if self._stop.is_set():
            return None                 # closed: the mirror is going away
        if not os.path.isdir(d):        # removed under us: make it again
            os.mkdir(d, 0o700)
        if self._conf_text is None or not os.path.exists(
                os.path.join(d, "ring.conf")):
            _write(d, "ring.conf", conf_text)
            self._conf_text = conf_text
            self._conf = conf
        have = {}
        for name in os.listdir(d):
            if re.fullmatch(r"[0-9a-f]{16}\.key", name):
                have[int(name[:16], 16)] = name
        for start, data in keys.items():
            if start not in have:
                _write(d, _key_file(start), data)
        for start, name in have.items():
            if start not in keys:
                try:
                    os.unlink(os.path.join(d, name))
                except FileNotFoundError:
                    pass
        return sorted(keys)

    def _republish(self):
        """Redis came back without the ring: publish the mirror's keys
        (SET NX, unexpired ones), then the conf."""
        now = int(time.time())
        expires = {k.start: k.expires for k in self.keys(now)}
        for name in sorted(os.listdir(self._mirror)):
            if not re.fullmatch(r"[0-9a-f]{16}\.key", name):
                continue
            start = int(name[:16], 16)
            x = expires.get(start, 0)
            if (x or start + MAX_LIFE) <= now:
                continue
            try:
                with open(os.path.join(self._mirror, name), "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                continue
            self._publish(start, data, x)
        self._call(self.client.set, self._k("conf"), self._conf_text, nx=True)

    # ---- rotation under the lock ----

    def rotate(self, force=False, now=None, wait=LOCK_MS / 1000 + 2):
        """Make the keys due in Redis (idempotent), under the lock; force:
        a new key encrypting from now (or the next second).  True if the
        ring changed; None if another process held the lock past wait (a
        holder that died frees it after LOCK_MS)."""
        now = int(now or time.time())
        token = self._lock(wait)
        if token is None:
            return None
        scratch = _mkdtemp()
        try:
            changed = self._rotate_locked(scratch, bool(force), now)
        finally:
            self._release(token)
            shutil.rmtree(scratch, ignore_errors=True)
        self.sync()
        self._reload_mirror()
        return changed

    def _rotate_locked(self, scratch, force, now):
        conf_text, keys = self._fetch()
        conf = _parse_conf(conf_text)
        if conf is None:
            raise _error(_core.TLSR_ENOTFOUND, "no ticket key ring in Redis "
                         "at %s prefix %r" % (self.url, self.prefix))
        want = self._key_len(conf)
        keys = {s: v for s, v in keys.items() if len(v) == want}
        _write(scratch, "ring.conf", conf_text)
        for start, data in keys.items():
            _write(scratch, _key_file(start), data)
        if not keys:    # all expired: an expired placeholder lets it open
            _write(scratch, _key_file(0), os.urandom(want))
        ring = TicketKeyRing(scratch)
        changed = ring.rotate(force=force, now=now)
        after = {k.start: k for k in ring.keys(now)}
        for start, k in after.items():
            if start not in keys and start != 0:
                with open(os.path.join(scratch, _key_file(start)), "rb") as f:
                    self._publish(start, f.read(), k.expires)
            elif k.expires:
                self._call(self.client.pexpireat,
                           self._k("key:%016x" % start), k.expires * 1000)
        gone = [s for s in keys if s not in after]
        if gone:
            self._call(self.client.delete,
                       *[self._k("key:%016x" % s) for s in gone])
        # Names of keys removed here or expired by their TTL leave the set.
        stale = [m for m in self._call(self.client.smembers, self._k("keys"))
                 if not re.fullmatch(rb"[0-9a-f]{16}", m)
                 or int(m, 16) not in after]
        if stale:
            self._call(self.client.srem, self._k("keys"), *stale)
        return bool(changed)

    def _reload_mirror(self):
        TicketKeyRing.reload(self)

    def reload(self):
        """Read Redis now (not waiting for the sync thread) and reload."""
        self.sync()
        self._reload_mirror()

    @classmethod
    def init(cls, url, *, period=3600, keep=12 * 3600, format="nginx80",
             background=False):
        """Create the ring in Redis (an Error if one is there) and open
        it.  The keys go in first, the conf last: a reader never sees a
        conf without keys."""
        if format not in INIT_FORMATS:
            raise _error(_core.TLSR_EINVAL, "format must be one of %s"
                         % ", ".join(sorted(INIT_FORMATS)))
        probe = _Uninit(url)
        token = probe._lock(LOCK_MS / 1000 + 2)
        if token is None:
            raise _error(EIO, "the ring lock in Redis at %s is "
                         "held by another process" % probe.url)
        scratch = _mkdtemp()
        try:
            if probe._call(probe.client.exists, probe._k("conf")):
                raise _error(_core.TLSR_EINVAL, "a ring exists in Redis at %s "
                             "prefix %r already" % (probe.url, probe.prefix))
            ring = TicketKeyRing.init(os.path.join(scratch, "r"),
                                      period=period, keep=keep, format=format)
            for k in ring.keys():
                with open(os.path.join(ring.path, _key_file(k.start)),
                          "rb") as f:
                    probe._publish(k.start, f.read(), k.expires)
            with open(os.path.join(ring.path, "ring.conf"), "rb") as f:
                if not probe._call(probe.client.set, probe._k("conf"),
                                   f.read(), nx=True):
                    raise _error(_core.TLSR_EINVAL, "a ring exists in Redis "
                                 "at %s already" % probe.url)
        finally:
            probe._release(token)
            shutil.rmtree(scratch, ignore_errors=True)
            probe.client.connection_pool.disconnect()
        return cls(url, background=background)

    # ---- the sync thread ----

    def _start(self):
        self._stop.clear()
        self._thread = threading.Thread(target=_sync_loop,
                                        args=(weakref.ref(self),),
                                        name="tlsresume-ring-sync",
                                        daemon=True)
        self._thread.start()

    def _tick(self):
        """One sync (and rotation when due); failures warn once."""
        try:
            starts = self.sync()
            now = int(time.time())
            if starts and due(self._conf, starts, now):
                self.rotate(now=now, wait=0)
            if self._failing:
                self._failing = False
                warnings.warn("tlsresume: ticket key ring %s: Redis is "
                              "back" % self.url, RuntimeWarning)
        except Exception as e:      # noqa: BLE001 - the thread must live
            if not self._failing and not self._stop.is_set():
                self._failing = True
                warnings.warn("tlsresume: ticket key ring %s: %s; serving "
                              "the last keys" % (self.url, e),
                              RuntimeWarning)

    def close(self):
        """Stop the sync thread and remove the mirror (servers still
        attached keep the keys they loaded)."""
        self._stop.set()
        _live.discard(self)
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(self.timeout * 8 + 1)    # a sync under way ends first
        if os.getpid() == self._owner:
            shutil.rmtree(self._mirror, ignore_errors=True)
        try:
            self.client.connection_pool.disconnect()
        except Exception:           # noqa: BLE001
            pass

    def __repr__(self):
        try:
            n, period, keep = len(self.keys()), self.period, self.keep
        except Exception:           # noqa: BLE001 - a repr must not fail
            return "<RedisTicketKeyRing %s prefix=%r>" % (self.url,
                                                          self.prefix)
        return "<RedisTicketKeyRing %s prefix=%r keys=%d period=%ds " \
               "keep=%ds>" % (self.url, self.prefix, n, period, keep)


class _Uninit(RedisTicketKeyRing):
    """Just the Redis half (for init: there is no ring to mirror yet)."""

    def __init__(self, url):
        if not is_url(url):
            raise TypeError("url must be a redis://, rediss:// or unix:// "
                            "URL")
        self.url = redact(url)
        rest, self.prefix, self.sync_interval, self.timeout = _split_url(url)
        redis = _import_redis()
        self._redis = redis
        self._errors = (redis.RedisError, OSError)
        self.client = _client_from_url(redis, rest, self.timeout)
        self._add = self.client.register_script(_ADD)
        self._unlock = self.client.register_script(_UNLOCK)


def _sync_loop(ref):
    while True:
        ring = ref()
        if ring is None or ring._stop.is_set():
            return
        interval = ring.sync_interval
        ring._tick()
        stop = ring._stop
        del ring
        if stop.wait(interval):
            return


# Open rings: a ring given to ticket_keys() as a URL and dropped by the
# caller must keep syncing (its contexts use it).
_live = set()


@atexit.register
def _close_all():
    for ring in list(_live):
        if os.getpid() == ring._owner:
            shutil.rmtree(ring._mirror, ignore_errors=True)


def _after_fork_in_child():
    # The sync thread does not survive fork(): the child runs its own on
    # the same mirror (idempotent writes); the parent removes it at exit.
    for ring in list(_live):
        if ring._thread is not None and not ring._stop.is_set():
            ring._start()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
