from django.urls import path

from portal import analytics_views, deal_views, learning_views, mdf_views, views

app_name = "portal"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("programs/", views.programs, name="programs"),
    path("programs/<slug:slug>/", views.program_detail, name="program_detail"),
    path("team/", views.team, name="team"),
    path("partners/", views.partners, name="partners"),
    path("partners/<int:pk>/", views.partner_detail, name="partner_detail"),
    path("manager/", views.manager, name="manager"),
    path("manager/analytics/funnel/", analytics_views.funnel, name="analytics_funnel"),
    path("manager/analytics/funnel.csv", analytics_views.funnel_csv, name="analytics_funnel_csv"),
    path("manager/analytics/tiers/", analytics_views.tier_movement, name="analytics_tiers"),
    path("manager/analytics/tiers.csv", analytics_views.tier_movement_csv, name="analytics_tiers_csv"),
    path("manager/analytics/tiers/moves/", analytics_views.tier_moves, name="analytics_tier_moves"),
    path("learning/", learning_views.catalogue, name="learning"),
    path("learning/team/", learning_views.team_learning, name="learning_team"),
    path("learning/courses/<int:pk>/", learning_views.course_detail, name="course_detail"),
    path("learning/courses/<int:pk>/enrol/", learning_views.course_enrol, name="course_enrol"),
    path(
        "learning/courses/<int:pk>/modules/<int:module_pk>/done/",
        learning_views.module_done,
        name="module_done",
    ),
    path("learning/courses/<int:pk>/quiz/", learning_views.course_quiz, name="course_quiz"),
    path("deals/", deal_views.deal_list, name="deals"),
    path("deals/new/", deal_views.deal_register, name="deal_register"),
    path("deals/<int:pk>/", deal_views.deal_detail, name="deal_detail"),
    path("deals/<int:pk>/approve/", deal_views.deal_approve, name="deal_approve"),
    path("deals/<int:pk>/reject/", deal_views.deal_reject, name="deal_reject"),
    path("deals/<int:pk>/won/", deal_views.deal_won, name="deal_won"),
    path("deals/<int:pk>/lost/", deal_views.deal_lost, name="deal_lost"),
    path("mdf/", mdf_views.mdf_list, name="mdf"),
    path("mdf/new/", mdf_views.mdf_new, name="mdf_new"),
    path("mdf/<int:pk>/", mdf_views.mdf_detail, name="mdf_detail"),
    path("mdf/<int:pk>/claim/", mdf_views.mdf_claim, name="mdf_claim"),
    path("mdf/<int:pk>/withdraw/", mdf_views.mdf_withdraw, name="mdf_withdraw"),
    path("mdf/<int:pk>/approve/", mdf_views.mdf_approve, name="mdf_approve"),
    path("mdf/<int:pk>/reject/", mdf_views.mdf_reject, name="mdf_reject"),
    path("mdf/<int:pk>/paid/", mdf_views.mdf_paid, name="mdf_paid"),
    path("mdf/<int:pk>/allow-early-claim/", mdf_views.mdf_allow_early_claim, name="mdf_allow_early_claim"),
    path("mdf/<int:pk>/proof/", mdf_views.mdf_proof, name="mdf_proof"),
]
