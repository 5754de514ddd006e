"""Copy this file into your test suite to check that your server (or every
backend behind one name) resumes TLS sessions.  Needs: pip install
tlsresume (its pytest plugin is installed with it).

    MY_SERVER=www.example.org:443 pytest test_my_server_resumes.py
    MY_SERVER=lb.internal:443 MY_IPS=10.0.0.1,10.0.0.2 pytest ...
"""
import os

import pytest

from tlsresume.testing import assert_resumes

TARGET = os.environ.get("MY_SERVER")
IPS = [ip for ip in os.environ.get("MY_IPS", "").split(",") if ip]
CAFILE = os.environ.get("MY_CAFILE")          # None: the system's trust


@pytest.mark.skipif(not TARGET, reason="set MY_SERVER=host:port")
@pytest.mark.parametrize("tls", ["1.2", "1.3"])
def test_my_server_resumes(tls):
    host, _, port = TARGET.rpartition(":")
    # Every address of the pool, and a session from each offered to each.
    assert_resumes(host, int(port), tls=tls, ips=IPS, cafile=CAFILE,
                   mechanisms=["ticket_tls12" if tls == "1.2" else "tls13"])


def test_local_server_resumes(tls_server):
    """The same check against a local openssl s_server (the plugin's
    fixture): a template for testing a config before deploying it."""
    srv = tls_server(tls="1.3")
    report = assert_resumes(srv.host, srv.port, cafile=srv.cafile)
    assert report.tickets_per_connection["tls1.3"][0] == 2
