"""The incentives endpoints, added to the API router with ``router.extend("incentives.api.routes")``."""

from incentives.api.views import ActivationViewSet, IncentiveRuleViewSet, LedgerEntryViewSet, StatementViewSet


def register(router) -> None:
    router.register("incentive-rules", IncentiveRuleViewSet, basename="incentive-rule")
    router.register("incentive-statements", StatementViewSet, basename="incentive-statement")
    router.register("ledger-entries", LedgerEntryViewSet, basename="ledger-entry")
    router.register("incentive-activations", ActivationViewSet, basename="incentive-activation")
