"""requests_session(): a requests.Session whose HTTPS connections resume
from a store.  requests has no ssl_context= of its own: the context goes to
urllib3 through the adapter's pool managers.  requests is imported only
when this is called, so it stays an optional dependency."""
import ssl

from ._attach import attach


def requests_session(store, context=None, *, scope="", early_data=False):
    """A requests.Session whose https:// adapter uses context (default:
    ssl.create_default_context()) attached to store, also through proxies.
    Keep the Session's default verify=True: a path given as verify= is
    loaded into context as well.  early_data: see attach()."""
    import requests
    from requests.adapters import HTTPAdapter

    ctx = ssl.create_default_context() if context is None else context
    attach(ctx, store, scope=scope, early_data=early_data)

    class ResumingAdapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kw):
            kw["ssl_context"] = ctx
            return super().init_poolmanager(*args, **kw)

        def proxy_manager_for(self, proxy, **kw):
            kw["ssl_context"] = ctx
            return super().proxy_manager_for(proxy, **kw)

    session = requests.Session()
    session.mount("https://", ResumingAdapter())
    return session
