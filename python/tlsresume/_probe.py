"""tlsresume.probe(): how a server, or a pool of servers, resumes.

The probing itself is the C core's (csrc/probe_*.c, shared with Lua); this
module turns its JSON report (schema: docs/probe.md) into a ProbeReport and
a readable text, and runs --watch (the key name over time).
"""
import dataclasses
import json
import time
from typing import Any, Dict, List, Optional

from . import _core
from ._session import _error

DEFAULT_TRIES = 5
DEFAULT_TIMEOUT = 5.0
_MECHS = {"session_id": 1, "ticket_tls12": 2, "tls13": 4}


@dataclasses.dataclass
class ProbeReport:
    """The probe's findings; fields mirror the JSON report."""
    schema: str
    target: Dict[str, Any]
    addresses: List[str]
    tries: int
    versions: Dict[str, Optional[bool]]
    session_id: Optional[Dict[str, Any]]
    ticket_tls12: Optional[Dict[str, Any]]
    tls13: Optional[Dict[str, Any]]
    tickets_per_connection: Dict[str, List[int]]
    ticket_lifetime_hint: Dict[str, List[int]]
    ticket_key_names: Dict[str, Any]
    early_data: Dict[str, Any]
    cross_address: Optional[Dict[str, List[List[Optional[bool]]]]]
    connections: List[Dict[str, Any]]
    notes: List[str]
    warnings: List[str]
    failures: List[str]
    verdict: str
    exit_status: int
    watch: Optional[List[Dict[str, Any]]] = None

    @classmethod
    def from_json(cls, text):
        d = json.loads(text)
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def as_dict(self):
        return dataclasses.asdict(self)

    def to_json(self, indent=2):
        return json.dumps(self.as_dict(), indent=indent)

    @property
    def resumes(self):
        """True when every mechanism probed resumed in every try."""
        return self.exit_status == 0


def _check_str(name, value):
    if value is not None and not isinstance(value, str):
        raise TypeError("%s must be a str, not %s"
                        % (name, type(value).__name__))


def probe(host, port=443, *, sni=None, ips=(), all_ips=False,
          tries=DEFAULT_TRIES, tls=None, mechanisms=None, early_data=False,
          request=None, timeout=DEFAULT_TIMEOUT, insecure=False, cafile=None,
          watch=None, count=2):
    """Probe host:port and return a ProbeReport.

    tls: None (both, as the server supports), "1.2" or "1.3".
    mechanisms: None (all) or some of "session_id", "ticket_tls12", "tls13".
    watch: seconds between probes (count of them), to see the ticket key
    name change over time.  Raises tlsresume.Error (code TLSR_ECONNECT)
    when the server cannot be probed at all (closed port, not TLS, a
    stall past timeout, a failed certificate check).  Blocks; the GIL is
    released while it runs.
    """
    _check_str("host", host)
    _check_str("sni", sni)
    _check_str("cafile", cafile)
    if isinstance(ips, str):
        ips = (ips,)
    ips = tuple(ips)
    for ip in ips:
        _check_str("ips", ip)
    for name, v in (("port", port), ("tries", tries), ("count", count)):
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError("%s must be an int" % name)
    if not 1 <= tries <= 100:
        raise _error(_core.TLSR_EINVAL, "tries must be in 1..100")
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool):
        raise TypeError("timeout must be a number of seconds")
    if not 0 < timeout <= 600:
        raise _error(_core.TLSR_EINVAL, "timeout must be in (0, 600] s")
    versions = {None: 0, "1.2": 1, "1.3": 2}.get(tls, -1)
    if versions < 0:
        raise _error(_core.TLSR_EINVAL,
                     "tls must be None, '1.2' or '1.3', not %r" % (tls,))
    mech = 0
    for m in (mechanisms or ()):
        if m not in _MECHS:
            raise _error(_core.TLSR_EINVAL, "unknown mechanism %r (use %s)"
                         % (m, ", ".join(_MECHS)))
        mech |= _MECHS[m]
    if isinstance(request, str):
        request = request.encode()
    if request is not None and not isinstance(request, bytes):
        raise TypeError("request must be bytes or str")
    args = (host, port, sni, ips, bool(all_ips), tries, versions, mech,
            bool(early_data), request, max(1, int(timeout * 1000)),
            bool(insecure), cafile)
    if watch is None:
        text, _status = _core.probe(*args)
        return ProbeReport.from_json(text)
    return _watch(args, watch, count)


def _watch(args, seconds, count):
    """count probes, seconds apart: key names as observed over time."""
    if not isinstance(seconds, (int, float)) or seconds < 0 or count < 1:
        raise _error(_core.TLSR_EINVAL,
                     "watch needs seconds >= 0 and count >= 1")
    report, rounds = None, []
    for i in range(count):
        if i:
            time.sleep(seconds)
        text, _status = _core.probe(*args)
        r = ProbeReport.from_json(text)
        names = r.ticket_key_names
        rounds.append({"time": time.time(), "tls1.2": names["tls1.2"],
                       "tls1.3": names["tls1.3"], "verdict": r.verdict})
        report = r if report is None else report
        if r.exit_status and not report.exit_status:
            report = r
    changes = []
    for v in ("tls1.2", "tls1.3"):
        prev = None
        for rd in rounds:
            cur = rd[v]
            if prev is not None and cur and prev and set(cur) != set(prev):
                changes.append("%s key name changed by %s" % (
                    v.replace("tls", "TLS "),
                    time.strftime("%H:%M:%S", time.gmtime(rd["time"]))))
            prev = cur or prev
        span = rounds[-1]["time"] - rounds[0]["time"]
        firsts = [set(rd[v]) for rd in rounds if rd[v]]
        if span > 86400 and firsts and all(f == firsts[0] for f in firsts):
            report.warnings.append(
                "%s ticket key name unchanged for %.0f h: keys are not"
                " rotated (a stolen key decrypts every session since)"
                % (v.replace("tls", "TLS "), span / 3600))
    report.notes.extend(changes or ["no key name change observed over %d"
                                    " probes" % count])
    report.watch = rounds
    return report


_PATTERNS = {"full_new_ticket": "full handshake, new ticket",
             "full_no_ticket": "full handshake, no ticket",
             "abbreviated_renewed": "abbreviated, renewed ticket",
             "abbreviated": "abbreviated, no new ticket",
             "refused_full_no_ticket": "ticket refused: full, no new ticket",
             "refused_full_new_ticket": "ticket refused: full, new ticket"}


def _count(c):
    if c is None:
        return "not probed"
    return "%d/%d resumed" % (c["resumed"], c["attempts"])


def format_text(r):
    """The readable report."""
    t = r.target
    out = ["probe %s port %d%s" % (t["host"], t["port"],
                                   " (SNI %s)" % t["sni"] if t["sni"] else ""),
           "  addresses     : %s" % ", ".join(r.addresses)]
    sup = ["%s %s" % (k.replace("tls", "TLS "),
                      {True: "yes", False: "no", None: "-"}[v])
           for k, v in r.versions.items()]
    out.append("  versions      : %s" % ", ".join(sup))
    out.append("  session IDs   : %s" % _count(r.session_id))
    tl = r.ticket_tls12
    out.append("  TLS 1.2 ticket: %s" % _count(tl))
    if tl and tl.get("patterns"):
        out.append("    RFC 5077 patterns: %s" % "; ".join(
            "%s x%d" % (_PATTERNS.get(k, k), n)
            for k, n in tl["patterns"].items()))
    t13 = r.tls13
    out.append("  TLS 1.3 PSK   : %s" % _count(t13))
    if t13:
        out.append("    new ticket after resumption: %d of %d; same ticket"
                   " twice: %s" % (t13["resumptions_with_new_ticket"],
                                   t13["resumed"],
                                   {True: "resumed", False: "refused",
                                    None: "not tried"}[
                                        t13["reused_ticket_resumed"]]))
    for v in ("tls1.2", "tls1.3"):
        if r.tickets_per_connection[v]:
            hints = r.ticket_lifetime_hint[v]
            out.append("  %s tickets per connection: %s%s"
                       % (v.replace("tls", "TLS "),
                          " ".join(map(str, r.tickets_per_connection[v])),
                          "; lifetime hints %s s" % "/".join(map(str, hints))
                          if hints else ""))
    kn = r.ticket_key_names
    for v in ("tls1.2", "tls1.3"):
        if kn[v]:
            out.append("  %s key names: %s" % (v.replace("tls", "TLS "),
                                               " ".join(kn[v])))
    if kn["tls1.2"] or kn["tls1.3"]:
        out.append("    RFC 5077 layout: %s; same across connections: %s;"
                   " across addresses: %s" % tuple(
                       {True: "yes", False: "no", None: "-"}[kn[k]]
                       for k in ("rfc5077_layout", "same_across_connections",
                                 "same_across_addresses")))
    ed = r.early_data
    out.append("  0-RTT         : max_early_data %d%s" % (
        ed["advertised_max"],
        "; early data accepted %d/%d; replay %s" % (
            ed["accepted"], ed["attempts"],
            {True: "ACCEPTED", False: "refused", None: "not tried"}[
                ed["replay_accepted"]]) if ed["attempted"] else ""))
    if r.cross_address:
        for v, m in r.cross_address.items():
            if not any(x is not None for row in m for x in row):
                continue
            out.append("  pool %s (row: session from, column: offered to):"
                       % v.replace("tls", "TLS "))
            w = max(len(a) for a in r.addresses)
            out.append("    %-*s  %s" % (w, "", "  ".join(
                "%-*s" % (w, a) for a in r.addresses)))
            for a, row in zip(r.addresses, m):
                out.append(("    %-*s  %s" % (w, a, "  ".join(
                    "%-*s" % (w, {True: "yes", False: "NO", None: "-"}[x])
                    for x in row))).rstrip())
    for n in r.notes:
        out.append("  note: %s" % n)
    for wn in r.warnings:
        out.append("  warning: %s" % wn)
    for f in r.failures:
        out.append("  not resumed: %s" % f)
    out.append("verdict: %s" % r.verdict)
    return "\n".join(out)
