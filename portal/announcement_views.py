"""Announcements in the portal: the list of those addressed to the viewer's partner, and marking
one read (the read receipt a channel manager sees in the admin).

Everything reads through ``Announcement.objects.visible_to`` / ``actionable_by``: an announcement
addressed to other partners answers 404, as a draft does. Marking read is POST-only, CSRF-protected.
"""

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from inbox import services
from inbox.models import Announcement
from inbox.selectors import announcements_for
from portal.access import portal_view
from portal.views import render_portal

PER_PAGE = 20


@portal_view("partner")
def announcements(request: HttpRequest) -> HttpResponse:
    page = Paginator(announcements_for(request.user), PER_PAGE).get_page(request.GET.get("page", 1))
    return render_portal(request, "portal/announcements/list.html", {"page": page}, section="announcements")


@require_POST
@portal_view("partner")
def announcement_read(request: HttpRequest, pk: int) -> HttpResponse:
    announcement = get_object_or_404(Announcement.objects.actionable_by(request.user, "read"), pk=pk)
    services.announcement_mark_read(actor=request.user, announcement=announcement)
    if request.POST.get("next") == "dashboard":
        return redirect("portal:dashboard")
    return redirect("portal:announcements")
