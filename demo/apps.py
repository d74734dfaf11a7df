from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data for `make run`: on top of every other app, and nothing imports it."""

    name = "demo"
    verbose_name = "Demo data"
