from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class PlatformConfig(AppConfig):
    name = "siyu.platform"
    label = "platform"
    verbose_name = _("Platform")

    def ready(self) -> None:
        # Register every app's jobs (``<app>/jobs.py``) with the queue in every process, so a worker
        # can run what the web process enqueued and the scheduler knows every periodic job.
        autodiscover_modules("jobs")
