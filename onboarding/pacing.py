"""Space the requests to a rate-limited provider evenly across every worker process.

Resend admits 2 requests per second per team by default and responds to any
request over that with 429 (https://resend.com/docs/api-reference/rate-limit).
Without pacing, one worker with a backlog got 429 for about half of its
requests (bench/outbox_drain.py against a double with that limit), and each
such email waited a retry backoff of 15 s or more. Before each
request a worker reserves the next free slot on a SendPace row, under a row
lock, and sleeps until it. The row is in the database, so workers in other
processes or on other hosts share the same limit, and a 429 moves the next slot
past the provider's retry-after for all of them.
"""

import logging
import time
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .models import SendPace

logger = logging.getLogger(__name__)

# A request reaches the provider some milliseconds after its slot, and the
# delay varies. Slots exactly 1/rate apart therefore still put one request too
# many into some one-second windows: a loopback double with Resend's limit
# responded to about a quarter of the requests with 429. With slots 5% further
# apart, request n and request n + rate are 1.05 s apart, which absorbs up to
# 50 ms of that delay for 5% less throughput. The resend-rs client keeps a
# similar margin (9 requests per 1.1 s against a limit of 10 per second).
SPACING_MARGIN = 0.05


def wait_for_slot(name, rate_per_second):
    """Sleep until this process may send the next request to the provider; return the seconds slept.

    A rate of 0 turns pacing off.
    """
    if not rate_per_second:
        return 0.0
    slot = reserve_slot(name, (1 + SPACING_MARGIN) / rate_per_second)
    wait = (slot - timezone.now()).total_seconds()
    if wait > 0:
        time.sleep(wait)
    return max(0.0, wait)


def reserve_slot(name, interval_seconds):
    """Take the next free slot and move the next one interval_seconds later; return the slot's time."""
    now = timezone.now()
    with transaction.atomic():
        pace = locked_pace(name, now)
        slot = max(now, pace.next_slot_at)
        pace.next_slot_at = slot + timedelta(seconds=interval_seconds)
        pace.save(update_fields=["next_slot_at"])
    return slot


def hold_off(name, seconds):
    """Start no request to the provider for the next seconds, after a 429 response."""
    now = timezone.now()
    resume_at = now + timedelta(seconds=seconds)
    with transaction.atomic():
        pace = locked_pace(name, now)
        if resume_at > pace.next_slot_at:
            pace.next_slot_at = resume_at
            pace.save(update_fields=["next_slot_at"])
    logger.warning("Provider %s rate limit reached: no request before %s", name, resume_at)


def locked_pace(name, now):
    # The row lock serialises reservations on PostgreSQL; on SQLite the
    # immediate transaction (settings.SQLITE_OPTIONS) takes the write lock.
    pace, _ = SendPace.objects.select_for_update().get_or_create(name=name, defaults={"next_slot_at": now})
    return pace
