from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from partners.models import Membership


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    membership = Membership.for_user(request.user)
    return render(request, "portal/dashboard.html", {"membership": membership})
