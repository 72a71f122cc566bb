from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "siyu.segments"
    label = "segments"
    verbose_name = _("Segments")

    def ready(self) -> None:
        from siyu.platform import hooks
        from siyu.segments import fresh, summary

        # incremental freshness (ADR 0016): new events re-evaluate the customers they touch
        hooks.on_events(fresh.heard)
        # the behaviour summary (ADR 0020) of days the lake rewrote is deleted with the change
        hooks.on_lake_days_changed(summary.forget_days)
