"""The public application to become a partner: no login, outside the portal's namespace."""

from django.urls import path

from portal import onboarding_views

urlpatterns = [
    path("", onboarding_views.apply, name="apply"),
    path("thanks/", onboarding_views.apply_done, name="apply_done"),
]
