from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContestsConfig(AppConfig):
    name = "siyu.contests"
    label = "contests"
    verbose_name = _("PK contests and the performance feed")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from siyu.contests import scoring
        from siyu.platform import hooks

        # Scores arrive after the commit of each batch of new events and of each finished task.
        hooks.on_events(scoring.on_events)
        hooks.on_guide_done(scoring.on_guide_done)
