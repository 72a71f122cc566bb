from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "siyu.events"
    label = "events"
    verbose_name = _("Events")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from siyu.events import services
        from siyu.platform import hooks

        # members must not import events: an erasure calls out through the kernel's registry.
        hooks.on_erase(services.forget_customers)
