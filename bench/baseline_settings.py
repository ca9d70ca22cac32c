"""Production settings with the earlier system's behaviour: onboarding messages sent inside the webhook request."""

from levqor.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "bench.reference.SynchronousOnboardingConfig"]  # noqa: F405
