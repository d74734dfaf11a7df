from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    """Recruitment and onboarding: applications to become a partner, the managers' decisions, and
    each program's onboarding checklist that makes a new partner active."""

    name = "onboarding"
    verbose_name = "Recruitment and onboarding"

    def ready(self) -> None:
        from events.signals import events_committed
        from onboarding.receivers import on_events_committed, on_facts_changed
        from partners.signals import facts_changed

        # A completed course or a registered deal may tick an onboarding item; the apps that
        # record them know nothing of onboarding.
        facts_changed.connect(on_facts_changed, dispatch_uid="onboarding.on_facts_changed")
        events_committed.connect(on_events_committed, dispatch_uid="onboarding.on_events_committed")
