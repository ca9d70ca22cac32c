from django.db import models


class OpsAlert(models.Model):
    """The alert state of one ops_report condition, so staff hear once when it starts and once when it clears."""

    key = models.CharField(max_length=64, unique=True, help_text="Condition name, e.g. webhook_failure_rate.")
    message = models.TextField(help_text="The figures of the latest run that saw the condition.")
    details = models.JSONField(default=dict, blank=True)
    first_seen_at = models.DateTimeField(help_text="Start of the current or latest occurrence.")
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True, help_text="Empty while the condition lasts.")
    occurrences = models.PositiveIntegerField(default=0, help_text="How many times the condition has started.")

    class Meta:
        verbose_name = "ops alert"
        ordering = ["key"]

    def __str__(self):
        return f"{self.key} ({'active' if self.active else 'resolved'})"

    @property
    def active(self):
        return self.resolved_at is None
