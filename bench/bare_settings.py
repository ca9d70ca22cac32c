"""Production settings with dj-stripe's bare webhook path: its own view and none of our receivers."""

from levqor.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "bench.reference.BareWebhookConfig"]  # noqa: F405
ROOT_URLCONF = "bench.bare_urls"
