import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Every failed login checks a password: a fast hasher keeps dozens of them quick."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
