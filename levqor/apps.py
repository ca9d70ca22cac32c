from django.apps import AppConfig


class LevqorConfig(AppConfig):
    name = "levqor"
    verbose_name = "Levqor"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
