"""Portal pages under /portal/incentives/: statements, their CSV, rewards and the program's cost."""

from django.urls import path

from portal import incentive_views as views

app_name = "incentives"

urlpatterns = [
    path("", views.index, name="index"),
    path("program-cost/", views.program_cost, name="program_cost"),
    path("<int:partner_id>/redeem/", views.redeem, name="redeem"),
    path("<int:partner_id>/<str:period>/", views.statement, name="statement"),
    path("<int:partner_id>/<str:period>/statement.csv", views.statement_csv, name="statement_csv"),
]
