"""The inbox in the portal: the list, marking read, and the delivery preferences.

Every role has an inbox: a partner's users, a distributor's, channel
managers (for their coverage). Items are read and marked through
``InboxItem.objects.visible_to`` / ``actionable_by``: an id of another user's
item answers 404. Marking read is POST-only, CSRF-protected.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from inbox import services
from inbox.kinds import kinds_received
from inbox.models import Delivery
from inbox.selectors import deliveries_of, inbox_items
from portal.access import portal_view
from portal.forms import InboxPreferencesForm
from portal.views import render_portal

PER_PAGE = 25


def _back_to_inbox(request: HttpRequest) -> HttpResponse:
    page = request.POST.get("page", "")
    url = reverse("portal:inbox")
    return redirect(f"{url}?page={int(page)}" if page.isdigit() and int(page) > 1 else url)


@portal_view()
def inbox(request: HttpRequest) -> HttpResponse:
    page = Paginator(inbox_items(request.user), PER_PAGE).get_page(request.GET.get("page", 1))
    return render_portal(request, "portal/inbox/list.html", {"page": page}, section="inbox")


@require_POST
@portal_view()
def inbox_read(request: HttpRequest, pk: int) -> HttpResponse:
    if not services.item_mark_read(actor=request.user, item_id=pk):
        raise Http404("No such item.")
    return _back_to_inbox(request)


@require_POST
@portal_view()
def inbox_read_all(request: HttpRequest) -> HttpResponse:
    marked = services.items_mark_all_read(actor=request.user)
    messages.success(request, f"{marked} item{'s' if marked != 1 else ''} marked read.")
    return _back_to_inbox(request)


@portal_view()
def inbox_preferences(request: HttpRequest) -> HttpResponse:
    kinds = kinds_received(request.user)
    form = InboxPreferencesForm(request.POST or None, initial=deliveries_of(request.user), kinds=kinds)
    if request.method == "POST" and form.is_valid():
        services.preferences_set(actor=request.user, deliveries=form.deliveries())
        messages.success(request, "Your inbox preferences are saved.")
        return redirect("portal:inbox_preferences")
    return render_portal(
        request,
        "portal/inbox/preferences.html",
        {"form": form, "kinds": kinds, "deliveries": Delivery.choices},
        section="inbox",
    )
