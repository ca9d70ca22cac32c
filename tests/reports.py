"""Run an operator command in this process, the way manage.py would."""

import io

from django.core.management import call_command
from django.core.management.base import CommandError


def run_command(name, *args, **options):
    """Run a management command; return (stdout, stderr, CommandError or None)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    error = None
    try:
        call_command(name, *args, stdout=stdout, stderr=stderr, **options)
    except CommandError as exc:
        error = exc
    return stdout.getvalue(), stderr.getvalue(), error
