"""Loaded with ``-p tests.environment`` before pytest-django configures Django.

The settings refuse to start without a SECRET_KEY unless DEBUG is on; the
test run is neither production nor the demo, so it brings its own key.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")
