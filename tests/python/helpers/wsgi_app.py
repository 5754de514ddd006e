"""A minimal WSGI app for the gunicorn ticket key test."""


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\n"]
