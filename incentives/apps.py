from django.apps import AppConfig


class IncentivesConfig(AppConfig):
    name = "incentives"
    verbose_name = "Incentives"

    def ready(self) -> None:
        from deals.signals import deal_won
        from gates.whatif import register_tier_cost
        from incentives.receivers import on_activities_changed, on_deal_won
        from incentives.whatif import tier_moves_cost
        from partners.signals import activities_changed

        deal_won.connect(on_deal_won, dispatch_uid="incentives.on_deal_won")
        activities_changed.connect(on_activities_changed, dispatch_uid="incentives.on_activities_changed")
        # The gates' what-if reports what its tier moves would cost in incentives.
        register_tier_cost(tier_moves_cost)
