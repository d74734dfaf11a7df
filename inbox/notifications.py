"""The inbox's emails, through Django's email backend."""

from django.core.mail import send_mail

from inbox.models import InboxItem


def _where(link: str) -> str:
    """The page to act on, as a path of the portal (the site's address is the reader's own)."""
    return f"In the portal: {link}" if link else ""


def item_email(user, item: InboxItem) -> None:
    """One item, alone."""
    link = _where(item.link)
    send_mail(
        subject=item.title,
        message=f"{item.body}\n\n{link}\n".strip()
        + "\n\nChange what you receive on your inbox preferences page.\n",
        from_email=None,
        recipient_list=[user.email],
    )


def digest_email(user, items: list[InboxItem]) -> None:
    """The day's digest: one email with every item."""
    lines = []
    for item in items:
        lines.append(f"- {item.title}")
        if item.body:
            lines.append(f"  {item.body}")
        if item.link:
            lines.append(f"  {_where(item.link)}")
    count = len(items)
    send_mail(
        subject=f"Your PRM digest: {count} new item{'s' if count != 1 else ''}",
        message="\n".join(lines) + "\n\nChange what you receive on your inbox preferences page.\n",
        from_email=None,
        recipient_list=[user.email],
    )
