"""The password reset request: limited per address and per email, the same answer for every email."""

import math

from django.contrib.auth import views as auth_views
from django.contrib.sites.shortcuts import get_current_site
from django.http import HttpResponse, HttpResponseRedirect

from accounts import services
from accounts.addresses import client_address
from accounts.throttles import reset_requests_per_address, reset_requests_per_email


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset request page, which neither looks the email up nor sends anything itself.

    Every request from an address counts, valid or not; every valid request
    counts for the email it names, whether a login uses it or not, so a
    refusal says nothing about accounts either.
    """

    def post(self, request, *args, **kwargs):
        wait = reset_requests_per_address.hit(client_address(request) or "")
        if wait is not None:
            return self.throttled(self.get_form(), wait)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        email = form.cleaned_data["email"]
        wait = reset_requests_per_email.hit(email.strip().lower())
        if wait is not None:
            return self.throttled(form, wait)
        services.password_reset_request(
            email=email, domain=get_current_site(self.request).domain, use_https=self.request.is_secure()
        )
        return HttpResponseRedirect(self.get_success_url())

    def throttled(self, form, wait: int) -> HttpResponse:
        context = self.get_context_data(form=form, throttled_minutes=max(1, math.ceil(wait / 60)))
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(wait)
        return response
