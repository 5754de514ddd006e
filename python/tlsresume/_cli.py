"""Command line: inspect a session file, run the demo, manage a store.

    tlsresume inspect FILE [--json]        (FILE: PEM or DER, - for stdin)
    tlsresume demo [--tls 1.2|1.3] [--runs N]
    tlsresume store ls PATH [--json]
    tlsresume store prune PATH
    tlsresume store rm PATH HOST PORT [--context C]

Nothing secret is printed: the master secret / PSK only by its length.
"""
import argparse
import datetime
import json
import sys

from . import _session, _store

VERIFY_TEXT = {0: "ok", 10: "certificate has expired",
               18: "self-signed certificate",
               19: "self-signed certificate in certificate chain",
               20: "unable to get local issuer certificate",
               21: "unable to verify the first certificate"}


def _hexdump(data, indent="    "):
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        hexes = " ".join("%02x" % b for b in chunk[:8])
        if len(chunk) > 8:
            hexes += "-" + " ".join("%02x" % b for b in chunk[8:])
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append("%s%04x - %-48s  %s" % (indent, off, hexes, text))
    return lines


def _utc(ts):
    try:
        return datetime.datetime.fromtimestamp(
            ts, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return "?"


def format_text(info, ticket=b""):
    """Text in the manner of `openssl sess_id -text`, plus what tlsresume
    adds (expiry, ALPN, SNI, peer).  The secret is shown by length only."""
    tls13 = info.protocol_version >= 0x0304
    out = ["SSL-Session:",
           "    Protocol  : %s" % info.protocol_name,
           "    Cipher    : %s (%s, 0x%04X)" % (info.cipher_name,
                                               info.cipher_rfc_name,
                                               info.cipher_id),
           "    Session-ID: %s" % info.session_id.hex().upper(),
           "    Session-ID-ctx: %s" % info.sid_ctx.hex().upper(),
           "    %s: (%d bytes, not shown)" % (
               "Resumption PSK" if tls13 else "Master-Key",
               info.master_key_len)]
    if info.has_ticket:
        out.append("    TLS session ticket lifetime hint: %d (seconds)"
                   % info.ticket_lifetime_hint)
        out.append("    TLS session ticket (%d bytes):" % info.ticket_len)
        out += _hexdump(ticket)
    out += ["    Start Time: %d (%s)" % (info.time, _utc(info.time)),
            "    Timeout   : %d (sec)" % info.timeout,
            "    Expires   : %d (%s), %d s left" % (
                info.expires, _utc(info.expires), info.remaining),
            "    Verify return code: %d (%s)" % (
                info.verify_result,
                VERIFY_TEXT.get(info.verify_result, "see openssl verify")),
            "    Extended master secret: %s" % (
                "yes" if info.extended_master_secret else "no"),
            "    Max Early Data: %d" % info.max_early_data,
            "    ALPN      : %s" % (info.alpn or "-"),
            "    SNI       : %s" % (info.sni or "-")]
    if info.has_peer:
        out += ["    Peer subject : %s" % info.peer_subject,
                "    Peer issuer  : %s" % info.peer_issuer,
                "    Peer expires : %s" % _utc(info.peer_not_after),
                "    Peer SHA-256 : %s" % info.peer_sha256.hex().upper()]
    else:
        out.append("    Peer      : (not in the session)")
    return "\n".join(out)


def cmd_inspect(a):
    data = (sys.stdin.buffer.read() if a.file == "-"
            else open(a.file, "rb").read())
    info = _session.inspect(data)
    if a.json:
        d = info.as_dict()
        d["ticket"] = _session.ticket(data).hex()
        print(json.dumps(d, indent=2, sort_keys=True))
    else:
        print(format_text(info, _session.ticket(data)))
    return 0


def _open_store(a):
    key = None
    if getattr(a, "seal_key_file", None):
        with open(a.seal_key_file, "rb") as f:
            key = f.read()
    return _store.SessionStore(a.path, seal_key=key)


def cmd_store(a):
    with _open_store(a) as st:
        if a.action == "ls":
            entries = list(st)
            if a.json:
                print(json.dumps([{"host": e.host, "port": e.port,
                                   "context": e.context, "sealed": e.sealed,
                                   "info": e.info.as_dict()}
                                  for e in entries], indent=2))
                return 0
            for e in entries:
                i = e.info
                print("%s:%d%s  %s %s  %s  %ds left%s" % (
                    e.host, e.port, " [%s]" % e.context if e.context else "",
                    i.protocol_name, i.cipher_name,
                    ("ticket %dB" % i.ticket_len) if i.has_ticket
                    else "id " + i.session_id.hex()[:16],
                    i.remaining, "  sealed" if e.sealed else ""))
            print("%d entries" % len(entries))
        elif a.action == "prune":
            print("removed %d" % st.prune())
        elif a.action == "rm":
            print("removed %d" % st.remove(a.host, a.port, a.context))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="tlsresume",
        description="Save, resume and inspect TLS sessions.")
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("inspect", help="show a session file (PEM or DER)")
    p.add_argument("file", help="session file, - for stdin")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("demo", help="save a session in one process and "
                       "resume it in new ones against a local server")
    p.add_argument("--tls", choices=["1.2", "1.3"], default="1.3")
    p.add_argument("--runs", type=int, default=4)
    p.set_defaults(func=lambda a: __import__(
        "tlsresume._demo", fromlist=["run"]).run(a))

    p = sub.add_parser("_demo-client")      # internal: one demo process
    p.add_argument("port", type=int)
    p.add_argument("cafile")
    p.add_argument("store")
    p.set_defaults(func=lambda a: __import__(
        "tlsresume._demo", fromlist=["client"]).client(a))

    p = sub.add_parser("store", help="list, prune or remove store entries")
    ssub = p.add_subparsers(dest="action", required=True)
    for name, hlp in (("ls", "list entries"), ("prune", "remove expired"),
                      ("rm", "remove a key's entries")):
        q = ssub.add_parser(name, help=hlp)
        q.add_argument("path")
        q.add_argument("--seal-key-file")
        if name == "ls":
            q.add_argument("--json", action="store_true")
        if name == "rm":
            q.add_argument("host")
            q.add_argument("port", type=int)
            q.add_argument("--context", default="")
        q.set_defaults(func=cmd_store)

    a = ap.parse_args(argv)
    try:
        return a.func(a)
    except _session.Error as e:
        print("tlsresume: %s (%s)" % (e, e.code_name), file=sys.stderr)
        return 1
    except OSError as e:
        print("tlsresume: %s" % e, file=sys.stderr)
        return 1
