"""Loaded with ``-p tests.environment`` before pytest-django configures Django.

The settings refuse to start without a SECRET_KEY unless DEBUG is on; the
test run is neither production nor the demo, so it brings its own key. The
test client and the browser tests' live server speak plain HTTP, so the
redirect to HTTPS that production gets by default is off.

The live server writes a response's status line and headers in separate small
sends. With Nagle's algorithm on, the last of them waits for the client's
delayed acknowledgement, about 40 ms per request, which the fuzzing and browser
runs pay thousands of times; the server sends at once instead, as production
servers (gunicorn) do.
"""

import os
import socketserver

socketserver.StreamRequestHandler.disable_nagle_algorithm = True

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")
os.environ.setdefault("SECURE_SSL_REDIRECT", "False")
