"""The password reset email, sent from a task so that the request never shows who has a login."""

from django.contrib.auth.forms import PasswordResetForm


def password_reset_send(*, email: str, domain: str, use_https: bool) -> None:
    """Email a reset link to every active login with a usable password that uses ``email``.

    Nothing is sent for an address no login uses. ``domain`` and ``use_https``
    are those of the request that asked, for the link.
    """
    form = PasswordResetForm(data={"email": email})
    if form.is_valid():
        form.save(domain_override=domain, use_https=use_https)
