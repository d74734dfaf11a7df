"""Celery tasks of signing in: thin wrappers around one function each."""

from celery import shared_task

from accounts import emails


@shared_task(autoretry_for=(OSError,), retry_backoff=60, max_retries=5)
def send_password_reset(email: str, domain: str, use_https: bool) -> None:
    emails.password_reset_send(email=email, domain=domain, use_https=use_https)


@shared_task(autoretry_for=(OSError,), retry_backoff=60, max_retries=5)
def send_invitation(email: str, domain: str, use_https: bool, inviter: str, organisation: str) -> None:
    emails.invitation_send(
        email=email, domain=domain, use_https=use_https, inviter=inviter, organisation=organisation
    )
