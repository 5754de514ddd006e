"""Command line: inspect a session file, run the demo, manage a store.

    tlsresume inspect FILE [--json]        (FILE: PEM or DER, - for stdin)
    tlsresume demo [--tls 1.2|1.3] [--runs N]
    tlsresume store ls PATH [--json] [--seal-key-file F]
    tlsresume store prune PATH [--seal-key-file F]
    tlsresume store rm PATH HOST PORT [--scope S]
    tlsresume probe HOST[:PORT] [--tls1.2|--tls1.3] [--all-ips] ... [--json]
    tlsresume keys init|rotate|show|export PATH ...   (see _cli_keys.py)

Nothing secret is printed: the master secret / PSK only by its length, and
not the TLS 1.3 ticket_age_add (it hides a ticket's age from observers).
Errors are one line on stderr and exit status 1 (probe: 2, and 1 means
"some mechanism did not resume").
"""
import argparse
import datetime
import json
import os
import sys

from . import _cli_keys, _session, _store

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


def _read_input(path):
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise _Fail("cannot read %s: %s" % (path, e.strerror or e)) from None


class _Fail(Exception):
    """A one-line error for stderr."""


def cmd_inspect(a):
    data = _read_input(a.file)
    info = _session.inspect(data)
    if a.json:
        d = info.as_dict()
        d["ticket"] = _session.ticket(data).hex()
        print(json.dumps(d, indent=2, sort_keys=True))
    else:
        print(format_text(info, _session.ticket(data)))
    return 0


def _as_owner(path):
    """Run as the store's owner when root meets a store another user owns
    (nginx workers as nobody): the store refuses directories owned by
    others, and whatever prune or rm leave stays the owner's.  Root may
    become any user; this process does nothing else afterwards."""
    if os.geteuid() != 0:
        return
    try:
        sb = os.stat(os.path.expanduser(path))
    except OSError:
        return              # the store's own error says why
    if sb.st_uid == 0 or sb.st_mode & 0o1002 == 0o1002:
        return              # root's, or shared like /tmp: refused as such
    os.setgroups([])
    os.setresgid(sb.st_gid, sb.st_gid, sb.st_gid)
    os.setresuid(sb.st_uid, sb.st_uid, sb.st_uid)
    print("tlsresume: %s is owned by uid %d: running as that user"
          % (path, sb.st_uid), file=sys.stderr)


def _open_store(a):
    key = None
    if a.seal_key_file:
        try:
            with open(a.seal_key_file, "rb") as f:
                key = f.read()
        except OSError as e:
            raise _Fail("cannot read %s: %s" % (a.seal_key_file,
                                                e.strerror or e)) from None
    # Listing or pruning never creates a store (SessionStore would).
    if not os.path.isdir(os.path.expanduser(a.path)):
        raise _Fail("no store directory at %s" % a.path)
    _as_owner(a.path)
    return _store.SessionStore(a.path, seal_key=key)


def _left(seconds):
    if seconds <= 0:
        return "expired"
    if seconds < 100:
        return "%ds" % seconds
    if seconds < 6000:
        return "%dm%02ds" % divmod(seconds, 60)
    if seconds < 100 * 3600:
        return "%dh%02dm" % (seconds // 3600, seconds // 60 % 60)
    return "%dd" % (seconds // 86400)


def _cut(text, width):
    return text if len(text) <= width else text[:width - 3] + "..."


def _ls_line(e):
    """One entry in 80 columns: key, protocol, what resumes, time left."""
    i = e.info
    key = "%s:%d%s" % (e.host, e.port, " (%s)" % e.scope if e.scope else "")
    what = (("ticket %dB" % i.ticket_len) if i.has_ticket
            else "id " + i.session_id.hex()[:8])
    return "%-42s %-7s %-12s %7s%s" % (
        _cut(key, 42), i.protocol_name, what, _left(i.remaining),
        "  sealed" if e.sealed else "")


def cmd_store(a):
    with _open_store(a) as st:
        if a.action == "ls":
            entries = list(st)
            if a.json:
                print(json.dumps([{"host": e.host, "port": e.port,
                                   "scope": e.scope, "sealed": e.sealed,
                                   "info": e.info.as_dict()}
                                  for e in entries], indent=2))
                return 0
            if entries:
                print("%-42s %-7s %-12s %7s" % ("HOST:PORT (SCOPE)", "PROTO",
                                                "RESUMES BY", "LEFT"))
            for e in entries:
                print(_ls_line(e))
            print("%d entr%s" % (len(entries),
                                 "y" if len(entries) == 1 else "ies"))
        elif a.action == "prune":
            print("removed %d" % st.prune())
        elif a.action == "rm":
            print("removed %d" % st.remove(a.host, a.port, scope=a.scope))
    return 0


def _demo(a):
    from . import _demo
    return _demo.run(a)


def _demo_client(a):
    from . import _demo
    return _demo.client(a)


# ---- probe (issue 11) -------------------------------------------------------

def _host_port(text):
    """HOST, HOST:PORT, [V6]:PORT or a bare IPv6 address."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise _Fail("bad target %r: use [ADDR]:PORT" % text)
        port = rest[1:] or "443"
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, "443"
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise _Fail("bad target %r: use HOST[:PORT], port 1..65535" % text)
    return host, int(port)


def cmd_probe(a):
    from . import _probe
    host, port = _host_port(a.target)
    request = None
    if a.request is not None:
        request = a.request.encode().decode("unicode_escape").encode(
            "latin-1")
    if a.count is not None and a.watch is None:
        raise _Fail("--count needs --watch SECONDS")
    r = _probe.probe(host, port, sni=a.sni, ips=a.ip or (),
                     all_ips=a.all_ips, tries=a.tries, tls=a.tls,
                     mechanisms=a.mechanism,
                     early_data=a.early_data, request=request,
                     timeout=a.timeout, insecure=a.insecure,
                     cafile=a.cafile, watch=a.watch,
                     count=a.count if a.count is not None else 2)
    print(r.to_json() if a.json else _probe.format_text(r))
    return r.exit_status


def _add_probe(sub, add):
    p = add(sub, "probe", "check how a server, or a pool of servers, "
            "resumes TLS sessions")
    p.add_argument("target", metavar="HOST[:PORT]",
                   help="server (port 443 by default; [::1]:8443)")
    p.add_argument("--sni", help="server name sent and checked in the "
                   "certificate (default: HOST)")
    p.add_argument("--ip", action="append", metavar="ADDR",
                   help="probe this address (repeat for a pool)")
    p.add_argument("--all-ips", action="store_true",
                   help="probe every address HOST resolves to")
    p.add_argument("--tries", type=int, default=5,
                   help="resumptions per mechanism (default 5)")
    p.add_argument("--mechanism", action="append", metavar="NAME",
                   choices=["session_id", "ticket_tls12", "tls13"],
                   help="probe only this: session_id, ticket_tls12, tls13 "
                        "(repeat; default all; a fleet sharing ticket "
                        "keys: --mechanism ticket_tls12 --mechanism tls13)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--tls1.2", dest="tls", action="store_const",
                   const="1.2", help="TLS 1.2 only")
    g.add_argument("--tls1.3", dest="tls", action="store_const",
                   const="1.3", help="TLS 1.3 only")
    p.add_argument("--early-data", action="store_true",
                   help="try 0-RTT, and the same ticket twice (replay)")
    p.add_argument("--request", metavar="BYTES",
                   help="early data / request sent (\\r\\n escapes; "
                        "default HEAD / HTTP/1.1 with Host)")
    p.add_argument("--watch", type=float, metavar="SECONDS",
                   help="probe again every SECONDS: key name changes")
    p.add_argument("--count", type=int, metavar="K",
                   help="with --watch: number of probes (default 2)")
    p.add_argument("--timeout", type=float, default=5.0, metavar="S",
                   help="per connect / handshake / read (default 5)")
    p.add_argument("--cafile", help="trust these CAs, not the system's")
    p.add_argument("--insecure", action="store_true",
                   help="do not verify the certificate")
    p.add_argument("--json", action="store_true",
                   help="JSON report (schema: docs/probe.md)")
    p.set_defaults(func=cmd_probe)

# ---- end probe --------------------------------------------------------------


EXAMPLES = {
    "inspect": "example:\n  openssl s_client -connect example.org:443 "
               "-sess_out s.pem </dev/null\n  tlsresume inspect s.pem\n"
               "  tlsresume inspect --json - < s.der",
    "demo": "example:\n  tlsresume demo --tls 1.2 --runs 3",
    "store": "example:\n  tlsresume store ls ~/.cache/myapp/tls",
    "ls": "example:\n  tlsresume store ls ~/.cache/myapp/tls\n"
          "  tlsresume store ls --json --seal-key-file key.bin /var/cache/tls",
    "prune": "example:\n  tlsresume store prune ~/.cache/myapp/tls",
    "rm": "example:\n  tlsresume store rm ~/.cache/myapp/tls example.org 443",
    "probe": "example:\n  tlsresume probe example.org\n"
             "  tlsresume probe example.org:443 --all-ips --tls1.3 --json\n"
             "  tlsresume probe lb.internal --ip 10.0.0.1 --ip 10.0.0.2\n"
             "exit: 0 all resumed, 1 some did not, 2 usage or connection"
             " error",
}
EXAMPLES.update(_cli_keys.EXAMPLES)


def _parser():
    ap = argparse.ArgumentParser(
        prog="tlsresume",
        description="Save, resume and inspect TLS sessions.",
        epilog="example:\n  tlsresume inspect session.pem\n"
               "  tlsresume store ls ~/.cache/myapp/tls",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    # metavar lists the public commands: _demo-client (one process of the
    # demo) is internal and has no help line.
    sub = ap.add_subparsers(dest="cmd", required=True,
                            metavar="{inspect,demo,store,probe,keys}")

    def add(parent, name, hlp):
        return parent.add_parser(
            name, help=hlp, description=hlp[:1].upper() + hlp[1:] + ".",
            epilog=EXAMPLES[name],
            formatter_class=argparse.RawDescriptionHelpFormatter)

    p = add(sub, "inspect", "show a session file (PEM or DER)")
    p.add_argument("file", help="session file, - for stdin")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=cmd_inspect)

    p = add(sub, "demo", "save a session in one process and resume it in "
            "new ones against a local server")
    p.add_argument("--tls", choices=["1.2", "1.3"], default="1.3")
    p.add_argument("--runs", type=int, default=4)
    p.set_defaults(func=_demo)

    p = sub.add_parser("_demo-client")
    p.add_argument("port", type=int)
    p.add_argument("cafile")
    p.add_argument("store")
    p.set_defaults(func=_demo_client)

    p = add(sub, "store", "list, prune or remove store entries")
    ssub = p.add_subparsers(dest="action", required=True)
    for name, hlp in (("ls", "list entries (80 columns, or --json)"),
                      ("prune", "remove expired and surplus entries"),
                      ("rm", "remove every entry of a key")):
        q = add(ssub, name, hlp)
        q.add_argument("path", help="store directory")
        if name == "rm":
            q.add_argument("host")
            q.add_argument("port", type=int)
            q.add_argument("--scope", default="",
                           help="the key's scope (default: none)")
        q.add_argument("--seal-key-file", metavar="FILE",
                       help="the 32-byte key of a sealed store")
        if name == "ls":
            q.add_argument("--json", action="store_true", help="JSON output")
        q.set_defaults(func=cmd_store)
    _add_probe(sub, add)

    _cli_keys.add_parser(sub, add)
    return ap


def _message(a, e):
    msg = str(e).replace("\n", " ")
    if isinstance(e, _session.Error):
        if (e.code_name == "TLSR_ESEAL" and "no key" in msg
                and not getattr(a, "seal_key_file", None)):
            msg += ": give it with --seal-key-file FILE"
        return "%s (%s)" % (msg, e.code_name)
    if isinstance(e, OSError) and e.strerror:
        return "%s%s" % (e.strerror, ": %s" % e.filename if e.filename
                         else "")
    return msg


def main(argv=None):
    a = _parser().parse_args(argv)
    try:
        return a.func(a)
    except BrokenPipeError:
        # `tlsresume inspect F | head`: the reader left.  Point stdout at
        # /dev/null so the interpreter's final flush stays quiet, and exit
        # 1 (the recipe in Python's signal module documentation).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (_Fail, _cli_keys._Fail, _session.Error, OSError) as e:
        print("tlsresume: %s" % _message(a, e), file=sys.stderr)
        return 2 if a.cmd == "probe" else 1
    except KeyboardInterrupt:
        return 130
