"""The password reset and invitation emails, sent from tasks so that a request never shows who
has a login."""

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm


def password_reset_send(*, email: str, domain: str, use_https: bool) -> None:
    """Email a reset link to every active login with a usable password that uses ``email``.

    Nothing is sent for an address no login uses. ``domain`` and ``use_https``
    are those of the request that asked, for the link.
    """
    form = PasswordResetForm(data={"email": email})
    if form.is_valid():
        form.save(domain_override=domain, use_https=use_https)


def invitation_send(*, email: str, domain: str, use_https: bool, inviter: str, organisation: str) -> None:
    """Email a new colleague the link to choose the password of the login made for them: the
    same one-time link as a password reset, in words that say why it comes."""
    form = PasswordResetForm(data={"email": email})
    if form.is_valid():
        form.save(
            domain_override=domain,
            use_https=use_https,
            subject_template_name="registration/invitation_subject.txt",
            email_template_name="registration/invitation_email.html",
            extra_email_context={
                "inviter": inviter,
                "organisation": organisation,
                "timeout_days": str(max(1, settings.PASSWORD_RESET_TIMEOUT // 86400)),
            },
        )
