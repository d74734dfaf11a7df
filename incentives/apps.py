from django.apps import AppConfig


class IncentivesConfig(AppConfig):
    name = "incentives"
    verbose_name = "Incentives"

    def ready(self) -> None:
        from deals.signals import deal_won
        from incentives.receivers import on_deal_won

        deal_won.connect(on_deal_won, dispatch_uid="incentives.on_deal_won")
