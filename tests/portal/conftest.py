import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Persona logins are created per test: a fast hasher keeps the suite quick."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def world(
    partner,
    other_partner,
    partner_admin,
    partner_sales,
    other_partner_admin,
    distributor_user,
    channel_manager,
):
    """Two organisations with a deal and an MDF request each, at every stage the pages show."""
    from tests.portal.builders import build_world

    return build_world(
        partner=partner,
        other_partner=other_partner,
        partner_admin=partner_admin,
        other_partner_admin=other_partner_admin,
    )
