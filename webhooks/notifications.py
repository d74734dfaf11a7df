"""The mail to a subscription's owner when it is disabled."""

from django.core.mail import send_mail

from webhooks.models import WebhookSubscription


def subscription_disabled(subscription_id: int) -> int:
    """Tell the owner why the subscription stopped and how to restart it. Returns recipients mailed."""
    subscription = WebhookSubscription.objects.select_related("owner").filter(pk=subscription_id).first()
    if subscription is None or not subscription.owner.email:
        return 0
    send_mail(
        subject=f"Webhook to {subscription.url} disabled",
        message=(
            f"Hello,\n\nThe webhook subscription to {subscription.url} was disabled: "
            f"{subscription.disabled_reason}\n\nFix the receiver, then enable the subscription again in the "
            "admin or through the API; undelivered events can be redelivered from its delivery log.\n"
        ),
        from_email=None,
        recipient_list=[subscription.owner.email],
    )
    return 1
