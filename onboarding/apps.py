from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    name = "onboarding"
    verbose_name = "Onboarding"

    def ready(self):
        from anymail.signals import tracking

        from orders.signals import intake_received, order_delivered, order_paid, payment_problem

        from . import receivers

        order_paid.connect(receivers.start_onboarding, dispatch_uid="onboarding.start_onboarding")
        payment_problem.connect(receivers.alert_payment_problem, dispatch_uid="onboarding.alert_payment_problem")
        intake_received.connect(receivers.finish_intake, dispatch_uid="onboarding.finish_intake")
        order_delivered.connect(receivers.send_handover, dispatch_uid="onboarding.send_handover")
        tracking.connect(receivers.record_tracking_event, dispatch_uid="onboarding.record_tracking_event")
