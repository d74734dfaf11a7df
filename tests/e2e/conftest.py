import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Persona logins are created per test: a fast hasher keeps the suite quick."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
