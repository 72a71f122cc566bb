from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IncentivesConfig(AppConfig):
    name = "siyu.incentives"
    label = "incentives"
    verbose_name = _("Guides' incentives")

    def ready(self) -> None:
        from siyu.incentives import live
        from siyu.platform import hooks

        hooks.on_events(live.on_events)
