"""Django's login, logout and password pages, with the reset request replaced by the limited one."""

from django.urls import include, path

from accounts import views

urlpatterns = [
    path("password_reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("", include("django.contrib.auth.urls")),
]
