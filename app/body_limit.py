"""Bodies sent without a Content-Length (chunked) are measured before the app reads them.

Werkzeug refuses a body whose Content-Length is over MAX_CONTENT_LENGTH before reading it, but one
without a length (chunked; the server marks such a stream `wsgi.input_terminated`) it silently cuts
at the limit. This reads at most one byte more than the limit; a longer body is then refused by the
app with its own 413 page, like one that announced its length.
"""
import io

BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class ChunkedBodyLimit:
    def __init__(self, wsgi_app, limit):
        self.wsgi_app = wsgi_app
        self.limit = limit

    def __call__(self, environ, start_response):
        unmeasured = not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated")
        if unmeasured and environ.get("REQUEST_METHOD") in BODY_METHODS:
            body = environ["wsgi.input"].read(self.limit + 1)
            # From here on the body is a plain one of known length (werkzeug ignores a
            # Content-Length next to "Transfer-Encoding: chunked").
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ["wsgi.input"] = io.BytesIO(b"" if len(body) > self.limit else body)
        return self.wsgi_app(environ, start_response)
