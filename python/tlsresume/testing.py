"""Assertions for test suites, on top of tlsresume.probe():

    from tlsresume.testing import assert_resumes
    assert_resumes("127.0.0.1", 8443, tls="1.3", cafile="ca.pem")

The failure message says what happened, e.g. "3/5 TLS 1.3 resumptions;
2 tickets per connection; key name changed between connections".
"""
from ._probe import probe

__all__ = ["assert_resumes", "assert_not_resumes", "describe"]


def describe(report):
    """One line on what the probe saw."""
    parts = []
    for key, label in (("session_id", "session-ID resumptions"),
                       ("ticket_tls12", "TLS 1.2 ticket resumptions"),
                       ("tls13", "TLS 1.3 resumptions")):
        c = getattr(report, key)
        if c:
            parts.append("%d/%d %s" % (c["resumed"], c["attempts"], label))
    for v in ("tls1.2", "tls1.3"):
        per = report.tickets_per_connection[v]
        if per:
            parts.append("%s tickets per connection (%s)"
                         % ("/".join(str(n) for n in sorted(set(per))),
                            v.replace("tls", "TLS ")))
    if report.ticket_key_names.get("same_across_connections") is False:
        parts.append("key name changed between connections")
    if report.ticket_key_names.get("same_across_addresses") is False:
        parts.append("key names differ between addresses")
    ed = report.early_data
    if ed["attempted"]:
        parts.append("%d/%d early data accepted" % (ed["accepted"],
                                                    ed["attempts"]))
    parts += report.failures
    return "; ".join(parts) or report.verdict


def assert_resumes(host, port, **options):
    """Probe host:port (options as tlsresume.probe) and fail unless every
    mechanism probed resumed in every try.  Returns the report."""
    report = probe(host, port, **options)
    if report.exit_status != 0:
        raise AssertionError("%s:%d does not always resume: %s"
                             % (host, port, describe(report)))
    return report


def assert_not_resumes(host, port, **options):
    """Fail if any mechanism probed resumed at all (e.g. a server that
    must keep resumption off).  Returns the report."""
    report = probe(host, port, **options)
    resumed = [k for k in ("session_id", "ticket_tls12", "tls13")
               if getattr(report, k) and getattr(report, k)["resumed"]]
    if resumed:
        raise AssertionError("%s:%d resumes (%s): %s"
                             % (host, port, ", ".join(resumed),
                                describe(report)))
    return report
