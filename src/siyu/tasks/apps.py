from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TasksConfig(AppConfig):
    name = "siyu.tasks"
    label = "tasks"
    verbose_name = _("Tasks")

    def ready(self) -> None:
        from siyu.platform import hooks
        from siyu.tasks import verify

        hooks.on_events(verify.on_events)
        hooks.on_guide_done(verify.on_guide_done)
