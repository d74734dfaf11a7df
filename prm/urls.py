from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from history.admin import log_view
from prm.views import favicon, healthz

admin.site.site_header = "PRM – channel management"
admin.site.site_title = "PRM admin"
admin.site.index_title = "Programs, partners and gates"

urlpatterns = [
    path("", RedirectView.as_view(url="/portal/", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    # Before the admin's own URLs, which would take "history/" for an app.
    path("admin/history/", admin.site.admin_view(log_view), name="history_log"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    # Public: a company applies to become a partner, without a login.
    path("become-a-partner/", include("portal.application_urls")),
    path("portal/incentives/", include("portal.incentive_urls")),
    path("portal/", include("portal.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script from its own URL, not inline.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("api.urls")),
]
