"""URLs under /api/: version 1 of the REST API."""

from django.urls import include, path, re_path

from api.routers import PRMRouter
from api.views.analytics import GateFunnelView, TierMovementView
from api.views.analytics_cohorts import CohortsView
from api.views.analytics_leaderboards import LeaderboardsView
from api.views.analytics_lifetime import LifetimeValueView, MyFiguresView
from api.views.analytics_roi import ProgramRoiView
from api.views.criteria import CriteriaSchemaView
from api.views.errors import not_found
from api.views.me import MeView

router = PRMRouter()
router.extend("api.views.partners")
router.extend("api.views.programs")
router.extend("api.views.gates")
router.extend("api.views.replays")
router.extend("api.views.whatif")
router.extend("api.views.forecasts")
router.extend("api.views.deals")
router.extend("api.views.incentives")
router.extend("api.views.history")
router.extend("api.views.webhooks")
router.extend("api.views.enablement")
router.extend("api.views.tokens")
router.extend("api.views.users")

app_name = "api"

urlpatterns = [
    path("v1/me/", MeView.as_view(), name="me"),
    path("v1/criteria-schema/", CriteriaSchemaView.as_view(), name="criteria-schema"),
    path("v1/analytics/funnel/", GateFunnelView.as_view(), name="analytics-funnel"),
    path("v1/analytics/tiers/", TierMovementView.as_view(), name="analytics-tiers"),
    path("v1/analytics/roi/", ProgramRoiView.as_view(), name="analytics-roi"),
    path("v1/analytics/leaderboards/", LeaderboardsView.as_view(), name="analytics-leaderboards"),
    path("v1/analytics/cohorts/", CohortsView.as_view(), name="analytics-cohorts"),
    path("v1/analytics/lifetime/", LifetimeValueView.as_view(), name="analytics-lifetime"),
    path("v1/analytics/my-figures/", MyFiguresView.as_view(), name="analytics-my-figures"),
    path("v1/", include(router.urls)),
    # Anything else under /api/v1/ answers a JSON 404 rather than an HTML page.
    re_path(r"^v1/.*$", not_found),
]
