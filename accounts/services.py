"""Writes of signing in."""

from django.db import transaction

from accounts.tasks import send_invitation, send_password_reset


def password_reset_request(*, email: str, domain: str, use_https: bool) -> None:
    """Queue the reset email for ``email``, after commit.

    The request neither looks the address up nor sends anything: whether a
    login uses it is decided in the task. So an address with a login and one
    without cost the request the same work and get the same answer.
    """
    transaction.on_commit(lambda: send_password_reset.delay(email, domain, use_https))


def invitation_request(*, email: str, domain: str, use_https: bool, inviter: str, organisation: str) -> None:
    """Queue, after commit, the email inviting a new colleague to choose the password of the
    login made for them (``inviter`` and ``organisation`` are named in it)."""
    transaction.on_commit(lambda: send_invitation.delay(email, domain, use_https, inviter, organisation))
