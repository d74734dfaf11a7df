"""Loaded with ``-p tests.environment`` before pytest-django configures Django.

The settings refuse to start without a SECRET_KEY unless DEBUG is on; the
test run is neither production nor the demo, so it brings its own key. The
test client and the browser tests' live server speak plain HTTP, so the
redirect to HTTPS that production gets by default is off.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")
os.environ.setdefault("SECURE_SSL_REDIRECT", "False")
