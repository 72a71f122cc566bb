from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LearningConfig(AppConfig):
    name = "siyu.learning"
    label = "learning"
    verbose_name = _("Knowledge and training")
    default_auto_field = "django.db.models.BigAutoField"
