"""`tlsresume keys`: create, rotate, show and export ticket key rings.

    tlsresume keys init PATH [--period 1h] [--keep 12h] [--format nginx80]
    (PATH may be redis://[:PASSWORD@]HOST:PORT/DB[?prefix=P]: the ring in
    Redis, see tlsresume/_redis_ring.py)
    tlsresume keys rotate PATH [--force] [--export-nginx DIR --reload-pid F]
    tlsresume keys show PATH [--json]
    tlsresume keys export PATH --format nginx80|nginx48|haproxy|node48
                          --out-dir DIR

Never prints a secret: keys are shown by name (the 16 bytes every ticket
carries in clear), role and times.
"""
import argparse
import json
import os
import re
import signal
import time

from . import _redis_ring, _ring

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

EXAMPLES = {
    "keys": "example:\n  tlsresume keys init /var/lib/tls/ring\n"
            "  tlsresume keys show /var/lib/tls/ring",
    "init": "example:\n  tlsresume keys init /var/lib/tls/ring --period 1h "
            "--keep 12h\n  tlsresume keys init /var/lib/tls/node-ring "
            "--format node48",
    "rotate": "example (cron, every 5 minutes; rotates only when due):\n"
              "  */5 * * * * tlsresume keys rotate /var/lib/tls/ring "
              "--export-nginx /etc/nginx/tickets --reload-pid "
              "/run/nginx.pid",
    "show": "example:\n  tlsresume keys show /var/lib/tls/ring --json",
    "export": "example:\n  tlsresume keys export /var/lib/tls/ring "
              "--format nginx80 --out-dir /etc/nginx/tickets",
}


class _Fail(Exception):
    """A one-line error (the caller prints it)."""


def duration(text):
    """"90s", "30m", "1h", "2d" or plain seconds -> seconds."""
    m = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text)
    if not m or int(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            "not a duration: %r (e.g. 90s, 30m, 1h, 2d)" % text)
    return int(m.group(1)) * UNITS[m.group(2) or "s"]


def _age(seconds):
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s < 120:
        return "%s%ds" % (sign, s)
    if s < 7200:
        return "%s%dm" % (sign, s // 60)
    if s < 172800:
        return "%s%dh%02dm" % (sign, s // 3600, s // 60 % 60)
    return "%s%dd" % (sign, s // 86400)


def _when(t, now):
    return "now" if t <= now else "in %ds" % (t - now)


def _open(path):
    # A Redis ring: no sync thread (this command reads Redis itself).
    if _redis_ring.is_url(path):
        return _redis_ring.RedisTicketKeyRing(path, background=False)
    return _ring.TicketKeyRing(path)


def _where(r):
    """What to print for a ring: its path, or its URL without password."""
    return getattr(r, "url", None) or r.path


def cmd_init(a):
    cls = (_redis_ring.RedisTicketKeyRing if _redis_ring.is_url(a.path)
           else _ring.TicketKeyRing)
    r = cls.init(a.path, period=a.period, keep=a.keep, format=a.format)
    print("created ring %s: %d keys, period %s, keep %s, %s"
          % (_where(r), len(r.keys()), _age(a.period), _age(a.keep),
             "AES-256" if r.aes256 else "AES-128"))
    return 0


def _exported_name(out_dir):
    try:
        with open(os.path.join(out_dir, "0.key"), "rb") as f:
            return f.read(16)
    except OSError:
        return None


def cmd_rotate(a):
    r = _open(a.path)
    changed = r.rotate(force=a.force)
    if changed is None:         # a Redis ring whose lock stayed taken
        raise _Fail("%s: another process held the rotation lock too "
                    "long; nothing done" % _where(r))
    now = int(time.time())
    if a.force:
        # the forced key: the newest one that starts by the next second
        k = max((k for k in r.keys() if k.start <= now + 1),
                key=lambda k: k.start)
        print("rotated: key %s encrypts from %s" % (k.name.hex(),
                                                    _when(k.start, now)))
    else:
        print("%s: encrypting key %s" % (
            "rotated" if changed else "nothing due",
            (r.encrypting(now) or b"").hex() or "(none)"))
    if a.export_nginx:
        fmt = "nginx80" if r.aes256 else "nginx48"
        if changed or _exported_name(a.export_nginx) != r.encrypting():
            n = r.export(fmt, a.export_nginx)
            print("exported %d keys to %s (%s)" % (n, a.export_nginx, fmt))
            if a.reload_pid:
                _signal(a.reload_pid)
    return 0


def _signal(pidfile):
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError) as e:
        raise _Fail("cannot read a pid from %s: %s" % (pidfile, e)) from None
    os.kill(pid, signal.SIGHUP)     # nginx: reload its configuration
    print("sent SIGHUP to %d (%s)" % (pid, pidfile))


def cmd_show(a):
    r = _open(a.path)
    now = int(time.time())
    keys = r.keys(now)
    if a.json:
        print(json.dumps({
            "path": _where(r), "period": r.period, "keep": r.keep,
            "cipher": "aes256" if r.aes256 else "aes128", "now": now,
            "keys": [{"name": k.name.hex(), "role": k.role,
                      "start": k.start, "end": k.end,
                      "expires": k.expires} for k in keys]}, indent=2))
        return 0
    print("ring %s: period %s, keep %s, %s" % (
        _where(r), _age(r.period), _age(r.keep),
        "AES-256" if r.aes256 else "AES-128"))
    print("%-32s %-8s %10s %12s" % ("KEY NAME", "ROLE", "AGE",
                                    "EXPIRES IN"))
    for k in keys:
        age = (_age(now - k.start) if k.start <= now
               else "in " + _age(k.start - now))
        print("%-32s %-8s %10s %12s" % (
            k.name.hex(), k.role, age,
            _age(k.expires - now) if k.expires else "-"))
    if not any(k.role == "next" for k in keys):
        print("warning: no next key: rotation is overdue (tlsresume keys "
              "rotate %s)" % _where(r))
    return 0


def config_lines(fmt, out_dir, n):
    d = os.path.abspath(out_dir)
    if fmt in ("nginx80", "nginx48"):
        return ["ssl_session_ticket_key %s;" % os.path.join(d, "%d.key" % i)
                for i in range(n)]
    if fmt == "haproxy":
        return ["bind :443 ssl crt /etc/haproxy/site.pem tls-ticket-keys %s"
                % os.path.join(d, "haproxy.keys")]
    return ["tls.createServer({ticketKeys: fs.readFileSync(%s), "
            "sessionIdContext: ...})" % json.dumps(os.path.join(d,
                                                                "node.key"))]


def cmd_export(a):
    r = _open(a.path)
    n = r.export(a.format, a.out_dir)
    for line in config_lines(a.format, a.out_dir, n):
        print(line)
    return 0


def add_parser(sub, add):
    """Registers `keys` on the main parser (add: _cli's helper)."""
    p = add(sub, "keys", "ticket key rings for servers: init, rotate, show, "
            "export")
    ksub = p.add_subparsers(dest="action", required=True)
    q = add(ksub, "init", "create a ring")
    q.add_argument("path", help="ring directory (made 0700) or redis:// "
                   "URL (?prefix=P: one ring per prefix)")
    q.add_argument("--period", type=duration, default=_ring.DEFAULT_PERIOD,
                   help="how long each key encrypts (default 1h)")
    q.add_argument("--keep", type=duration, default=_ring.DEFAULT_KEEP,
                   help="how long it decrypts afterwards (default 12h)")
    q.add_argument("--format", choices=sorted(_ring.INIT_FORMATS),
                   default="nginx80", help="key kind: nginx80/openssl80 "
                   "(AES-256, default), nginx48/node48 (AES-128)")
    q.set_defaults(func=cmd_init)
    q = add(ksub, "rotate", "make the keys due (idempotent, for cron)")
    q.add_argument("path")
    q.add_argument("--force", action="store_true",
                   help="a new encrypting key now (e.g. after a leak)")
    q.add_argument("--export-nginx", metavar="DIR",
                   help="then export for nginx to DIR if anything changed")
    q.add_argument("--reload-pid", metavar="FILE",
                   help="and send SIGHUP to the pid in FILE (nginx reload)")
    q.set_defaults(func=cmd_rotate)
    q = add(ksub, "show", "list the keys: names, roles, ages (no secret)")
    q.add_argument("path")
    q.add_argument("--json", action="store_true", help="JSON output")
    q.set_defaults(func=cmd_show)
    q = add(ksub, "export", "write the keys for nginx, HAProxy or Node and "
            "print the config lines")
    q.add_argument("path")
    q.add_argument("--format", required=True,
                   choices=sorted(_ring.EXPORT_FORMATS))
    q.add_argument("--out-dir", required=True, metavar="DIR")
    q.set_defaults(func=cmd_export)
