"""TicketKeyRing: server ticket keys shared and rotated through a directory.

A ring is a directory (0700, files 0600) of ticket keys and their schedule
(see csrc/ring.h): one key encrypts, the next one is published a period
ahead, retired ones decrypt for `keep` seconds.  Every server process that
opens the same ring resumes the others' tickets.
"""
import dataclasses
import os

from . import _core
from ._session import _error

#: init/export formats (the key size is chosen at init: one kind per ring)
INIT_FORMATS = {"openssl80": _core.TLSR_KEYS_OPENSSL80,
                "nginx80": _core.TLSR_KEYS_OPENSSL80,
                "nginx48": _core.TLSR_KEYS_NGINX48,
                "node48": _core.TLSR_KEYS_NODE48}
EXPORT_FORMATS = {"nginx80": _core.TLSR_EXPORT_NGINX80,
                  "nginx48": _core.TLSR_EXPORT_NGINX48,
                  "haproxy": _core.TLSR_EXPORT_HAPROXY,
                  "node48": _core.TLSR_EXPORT_NODE48}
ROLES = {_core.TLSR_RING_ENCRYPT: "encrypt", _core.TLSR_RING_NEXT: "next",
         _core.TLSR_RING_DECRYPT: "decrypt",
         _core.TLSR_RING_EXPIRED: "expired"}

DEFAULT_PERIOD = 3600
DEFAULT_KEEP = 12 * 3600


@dataclasses.dataclass(frozen=True)
class RingKey:
    """One key of a ring, without its secrets: name (16 bytes, in every
    ticket it seals), role at the time asked, when it starts and stops
    encrypting and when it stops decrypting (Unix seconds, 0: not known
    yet: it has no successor)."""
    name: bytes
    role: str
    start: int
    end: int
    expires: int


def _path(path):
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError("ring path must be a str or os.PathLike, not %s"
                        % type(path).__name__)
    return os.path.expanduser(os.fsdecode(path))


def _seconds(name, v):
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError("%s must be an int (seconds)" % name)
    if v <= 0:
        raise _error(_core.TLSR_EINVAL, "%s must be positive" % name)
    return v


class TicketKeyRing:
    """An open ring (its keys are re-read when it changes; nothing secret
    is ever shown).  TicketKeyRing.init(path) makes a new one."""

    def __init__(self, path):
        self._path = _path(path)
        self._ring = _core.Ring(self._path)

    @classmethod
    def init(cls, path, *, period=DEFAULT_PERIOD, keep=DEFAULT_KEEP,
             format="nginx80"):
        """Create a ring at path and open it.  period: seconds each key
        encrypts; keep: seconds it decrypts afterwards (period + keep <= 7
        days); format: "nginx80"/"openssl80" (AES-256, the default) or
        "nginx48"/"node48" (AES-128, to share keys with Node)."""
        if format not in INIT_FORMATS:
            raise _error(_core.TLSR_EINVAL, "format must be one of %s"
                         % ", ".join(sorted(INIT_FORMATS)))
        p = _path(path)
        _core.ring_init(p, _seconds("period", period), _seconds("keep", keep),
                        INIT_FORMATS[format])
        return cls(p)

    @property
    def path(self):
        return self._path

    @property
    def period(self):
        return self._ring.options()[0]

    @property
    def keep(self):
        return self._ring.options()[1]

    @property
    def aes256(self):
        return self._ring.options()[2] == _core.TLSR_KEYS_OPENSSL80

    def keys(self, now=None):
        """The ring's keys, oldest first, with their roles at now."""
        return [RingKey(n, ROLES.get(r, "?"), s, e, x)
                for n, r, s, e, x in self._ring.keys(int(now or 0))]

    def encrypting(self, now=None):
        """Name of the key sealing new tickets (None if there is none)."""
        for k in self.keys(now):
            if k.role == "encrypt":
                return k.name
        return None

    def rotate(self, force=False, now=None):
        """Make the keys due (idempotent); force: a new key encrypting from
        now (or the next second).  True if the ring changed."""
        return self._ring.rotate(bool(force), int(now or 0))

    def reload(self):
        self._ring.reload()

    def export(self, format, out_dir, now=None):
        """Write the keys for another server (see `tlsresume keys export`):
        returns the number of keys written."""
        if format not in EXPORT_FORMATS:
            raise _error(_core.TLSR_EINVAL, "format must be one of %s"
                         % ", ".join(sorted(EXPORT_FORMATS)))
        return self._ring.export(EXPORT_FORMATS[format],
                                 os.fsdecode(out_dir), int(now or 0))

    def status(self, clear=False):
        """Counters of the servers using this object, and the last reload
        failure (last_error) if any."""
        return self._ring.status(bool(clear))

    def decrypt(self, ticket):
        """Decrypt a ticket (bytes) with the ring: the server-side
        session's facts as a dict (inspection; no secret)."""
        if not isinstance(ticket, (bytes, bytearray, memoryview)):
            raise TypeError("ticket must be bytes")
        return self._ring.decrypt(bytes(ticket))

    def __repr__(self):
        try:
            n = len(self.keys())
            period, keep = self.period, self.keep
        except Exception:       # noqa: BLE001 - a repr must not fail
            return "<TicketKeyRing %r>" % self._path
        return "<TicketKeyRing %r keys=%d period=%ds keep=%ds>" % (
            self._path, n, period, keep)
