"""Failed logins, counted per account and per address, each against its own limit.

django-axes records every failure (username, address, user agent) and refuses
``authenticate()`` while a client is locked out, for the portal login and the
admin login alike, whatever the password. Its own counting compares every
parameter with one limit; here an account is locked after
``PRM_LOGIN_FAILURES_PER_ACCOUNT`` failures from anywhere, and an address
after ``PRM_LOGIN_FAILURES_PER_ADDRESS`` failures on any accounts, a higher
number because an office shares one address. Both last
``PRM_LOGIN_COOLOFF_MINUTES`` after the failures that caused them.
"""

import math

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin
from django.db.models import Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse


class SignInAttemptHandler(AxesDatabaseHandler):
    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        """The account's recent failures, or the account limit once the address reached its own.

        django-axes locks out when this number reaches ``AXES_FAILURE_LIMIT``
        (the account limit), both when it refuses a login and when it decides
        that a failure just caused a lockout, so the address limit is folded
        into the same number. One query.
        """
        username = get_client_username(request, credentials)
        address = request.axes_ip_address  # type: ignore[attr-defined]
        sums = {}
        if username is not None:
            sums["account"] = Sum("failures_since_start", filter=Q(username=username), default=0)
        if address is not None:
            sums["address"] = Sum("failures_since_start", filter=Q(ip_address=address), default=0)
        recent = AccessAttempt.objects.filter(attempt_time__gte=get_cool_off_threshold(request))
        totals = recent.aggregate(**sums) if sums else {}
        account_failures, address_failures = totals.get("account", 0), totals.get("address", 0)
        account_limit = get_failure_limit(request, credentials)
        if address_failures >= settings.PRM_LOGIN_FAILURES_PER_ADDRESS:
            return max(account_failures, account_limit)
        return account_failures

    def reset_user_attempts(self, request: HttpRequest, credentials: dict | None = None) -> int:
        """After a successful login, forget that client's failures on that account only.

        django-axes would also delete every failure from the address, on any
        account: someone holding one login could then sign in to it between
        guesses at another and never reach either limit.
        """
        username = get_client_username(request, credentials)
        address = request.axes_ip_address  # type: ignore[attr-defined]
        count, _ = AccessAttempt.objects.filter(username=username, ip_address=address).delete()
        return count


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """The page a locked-out login gets: 429, when to come back, and nothing about the account.

    It is the same whether the username exists or not, and whichever limit
    was reached; it does not repeat the username. The admin login gets it in
    the admin's look, the portal login in the portal's.
    """
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 0
    context = {"minutes": max(1, math.ceil(seconds / 60))}
    if request.path.startswith(reverse("admin:index")):
        template = "admin/locked_out.html"
        context |= admin.site.each_context(request) | {"title": "Signing in is paused"}
    else:
        template = "registration/locked_out.html"
    response = render(request, template, context, status=429)
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
