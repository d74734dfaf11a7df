"""What every portal page's header needs: the bell's unread count.

The count is read lazily, once per response, and only when a template shows
it (the admin never does): one COUNT query, whatever the number of items.
"""

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from inbox.selectors import unread_count


def inbox(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"inbox_unread": SimpleLazyObject(lambda: unread_count(user))}
