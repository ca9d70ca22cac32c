from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    name = "onboarding"
    verbose_name = "Onboarding"

    def ready(self):
        from orders.signals import order_paid

        from . import receivers

        order_paid.connect(receivers.start_onboarding, dispatch_uid="onboarding.start_onboarding")
