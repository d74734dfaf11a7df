import pytest

from events.outbox import emit
from tests.webhooks.receiver import Receiver
from webhooks import services, transport


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_kept_connections():
    """Each test starts and ends without connections kept alive by the previous one."""
    transport.POOL.clear()
    yield
    transport.POOL.clear()


@pytest.fixture
def allow_loopback(settings):
    """The receiver runs on 127.0.0.1: the setting that lets webhooks reach it."""
    settings.PRM_WEBHOOKS_ALLOW_PRIVATE_URLS = True


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def subscribe(allow_loopback, receiver, superuser):
    """Subscribe the receiver (as ``owner``, the superuser by default) and give it the secret."""

    def make(event_types=("partner.status_changed",), owner=None, **values):
        owner = owner or superuser
        subscription = services.subscription_create(
            actor=owner, owner=owner, url=receiver.url, event_types=list(event_types), **values
        )
        receiver.secret = subscription.secret
        return subscription

    return make


def emit_status_change(partner, *, to_status="suspended"):
    return emit(
        "partner.status_changed",
        data={
            "partner_id": partner.pk,
            "partner_name": partner.name,
            "from_status": "active",
            "to_status": to_status,
        },
        partner_id=partner.pk,
    )
